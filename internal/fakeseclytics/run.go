package fakeseclytics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// shutdownTimeout bounds how long Run waits for requests in flight (a dump
// download, say) once its context is done.
const shutdownTimeout = 5 * time.Second

// Run prepares the dumps described by opts, listens on listen (a loopback
// address such as "127.0.0.1:0"), prints one line
// "fake-seclytics listening on http://ADDR" to stdout (the built-in list
// feeds too, each at its publisher's path: see Lists), and serves until ctx
// is done; it then shuts the server down and removes temporary dumps. It
// returns nil after a clean shutdown.
func Run(ctx context.Context, listen string, opts Options, stdout io.Writer) error {
	if err := checkLoopback(listen); err != nil {
		return err
	}
	srv, err := New(ctx, opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	if opts.ListEntries <= 0 {
		opts.ListEntries = 1000
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	// A name such as "localhost" may resolve to anything: check what was
	// actually bound.
	if err := checkLoopback(ln.Addr().String()); err != nil {
		_ = ln.Close()
		return err
	}

	hs := &http.Server{
		Handler:           Handler(srv, NewLists(GeneratedPrefixes(opts.Seed, opts.ListEntries), time.Now())),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	if _, err := fmt.Fprintf(stdout, "fake-seclytics listening on http://%s\n", ln.Addr()); err != nil {
		_ = hs.Close()
		<-served
		return fmt.Errorf("print the fake Seclytics address: %w", err)
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve fake Seclytics: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err = hs.Shutdown(shutdownCtx)
	if err != nil {
		// Downloads still running after the grace period are cut.
		_ = hs.Close()
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve fake Seclytics: %w", serr)
	}
	if err != nil {
		return fmt.Errorf("shut down fake Seclytics: %w", err)
	}
	return nil
}

// checkLoopback returns ErrNotLoopback unless addr (host:port) names a
// loopback IP address or "localhost".
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("%w: %q is not a loopback address; use 127.0.0.1:PORT or [::1]:PORT", ErrNotLoopback, addr)
	}
	return nil
}
