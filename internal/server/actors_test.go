package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestActorsStopTogether: the first actor to fail interrupts the others,
// act waits for all of them, and returns every error named by its actor.
// A listener that fails makes the HTTP server's actor that first one.
func TestActorsStopTogether(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // Serve fails at once
	log := slog.New(slog.DiscardHandler)
	interrupted := make(chan struct{})
	var cleanedUp bool
	waiter := loopActor(context.Background(), "waiter", func(ctx context.Context) error {
		<-ctx.Done()
		close(interrupted)
		cleanedUp = true // read after act returns: act must wait for this
		return errors.New("cleanup failed")
	})
	done := make(chan error, 1)
	go func() {
		done <- act(serveHTTP(context.Background(), &http.Server{}, ln, time.Second, log), waiter)
	}()
	var got error
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("act did not return within 30s after the HTTP server failed")
	}
	select {
	case <-interrupted:
	default:
		t.Fatal("the other actor was not interrupted")
	}
	if !cleanedUp {
		t.Error("act returned before the interrupted actor finished")
	}
	for _, want := range []string{"HTTP server: serve on 127.0.0.1:", "waiter: cleanup failed"} {
		if got == nil || !strings.Contains(got.Error(), want) {
			t.Errorf("act returned %v, want it to contain %q", got, want)
		}
	}
	if !errors.Is(got, net.ErrClosed) {
		t.Errorf("act returned %v, want it to wrap net.ErrClosed", got)
	}
}
