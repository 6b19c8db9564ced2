package cli

import (
	"context"
	"fmt"
	"strings"

	"forewarn/internal/api"
	"forewarn/internal/pivot"
	httpserver "forewarn/internal/server"
)

func cmdServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve", "serve [--listen ADDR] [--db FILE|postgres://…] [--tls-cert FILE --tls-key FILE] [--sync 15s] [--max-exports 8] [--max-exports-per-key 2] [--trusted-proxy ADDR|CIDR,...] [--pivot NAME=URL ...]")
	db := dbFlag(e, fs)
	listen := fs.String("listen", httpserver.DefaultListen, "address to listen on; a non-loopback address without TLS logs a warning")
	cert := fs.String("tls-cert", "", "TLS certificate file (PEM)")
	key := fs.String("tls-key", "", "TLS private key file (PEM)")
	grace := fs.Duration("grace", 0, "how long shutdown waits for requests and runs (default 30s)")
	syncEvery := fs.Duration("sync", 0, "how often to pick up changes other processes made to the store: their runs and feed configuration (default 15s)")
	maxExports := fs.Int("max-exports", api.DefaultExportTotal, "how many export and output-profile downloads run at once, in all; beyond it a request gets 429 with Retry-After (each holds a database connection while its client reads)")
	maxPerKey := fs.Int("max-exports-per-key", api.DefaultExportPerKey, "how many of those one API key or output profile key may run at once")
	var proxies multi
	fs.Var(&proxies, "trusted-proxy", "a reverse proxy in front of serve, by address or CIDR (repeatable, or comma-separated): the UI believes its X-Forwarded-For for the sign-in limit and its X-Forwarded-Proto: https for a Secure session cookie")
	var pivots multi
	fs.Var(&pivots, "pivot", "a link on each indicator's page to a third-party page about the address, as NAME=URL with {ip} where the address goes, e.g. Shodan=https://www.shodan.io/host/{ip} (repeatable; none by default: a click sends the address to that site)")
	level, format := logFlags(fs, "info")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return &ExitError{Code: 2, Err: fmt.Errorf("serve takes no arguments, not %q", pos[0])}
	}
	if *maxExports < 1 || *maxExports > 64 || *maxPerKey < 1 || *maxPerKey > *maxExports {
		return &ExitError{Code: 2, Err: fmt.Errorf("--max-exports %d --max-exports-per-key %d: want 1 <= per key <= in all <= 64", *maxExports, *maxPerKey)}
	}
	trusted, err := httpserver.ParseTrustedProxies(strings.Join(proxies, ","))
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	links, err := pivot.ParseAll(pivots)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	log, err := logger(e, *level, *format)
	if err != nil {
		return err
	}
	return httpserver.Run(ctx, httpserver.Config{
		DB: *db, Listen: *listen, TLSCert: *cert, TLSKey: *key, Log: log, Out: e.stdout, Grace: *grace, Sync: *syncEvery, TrustedProxies: trusted, Pivots: links,
		Exports: api.ExportLimits{Total: *maxExports, PerKey: *maxPerKey},
	})
}
