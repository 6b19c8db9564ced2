package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/oklog/run"

	"forewarn/internal/runner"
)

// An actor is one long-lived part of serve. work runs until interrupt is
// called (or it fails), and returns only once every goroutine it started
// has stopped: so when all actors have returned, nothing touches the store
// any more and it may close.
type actor struct {
	name      string
	work      func() error
	interrupt func(error)
}

// loopActor makes an actor of a loop that works until its context ends.
// The context keeps ctx's values but not its cancellation: only the
// interrupt stops an actor, so that all stop through one path.
func loopActor(ctx context.Context, name string, loop func(context.Context) error) actor {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return actor{name: name, work: func() error { return loop(ctx) }, interrupt: func(error) { cancel() }}
}

// act starts the actors together and returns once all have stopped: the
// first to return, whether done or failed, interrupts the others. It
// returns every actor's error, each named by its actor.
func act(actors ...actor) error {
	var g run.Group
	errs := make([]error, len(actors))
	for i, a := range actors {
		g.Add(func() error {
			if err := a.work(); err != nil {
				errs[i] = fmt.Errorf("%s: %w", a.name, err)
				return err
			}
			return nil
		}, a.interrupt)
	}
	g.Run()
	// Run returned after every work function: errs is theirs no more.
	return errors.Join(errs...)
}

// untilDone is the actor that ends serve: it returns when ctx ends (the
// process got SIGINT or SIGTERM), which interrupts all the others.
func untilDone(ctx context.Context, grace time.Duration, log *slog.Logger) actor {
	return loopActor(ctx, "signal", func(interrupted context.Context) error {
		select {
		case <-ctx.Done():
			log.Info("shutting down", "grace", grace.String())
		case <-interrupted.Done():
		}
		return nil
	})
}

// serveHTTP is the HTTP server's actor. Interrupted, it stops accepting
// connections and lets open requests finish within grace, then closes
// the ones left.
func serveHTTP(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, log *slog.Logger) actor {
	return loopActor(ctx, "HTTP server", func(ctx context.Context) error {
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		select {
		case <-ctx.Done():
		case err := <-served:
			return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
		}
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
		defer cancel()
		if err := srv.Shutdown(gctx); err != nil {
			srv.Close()
			log.Warn("requests still open after the grace period were closed", "err", err)
		}
		<-served // Serve returns as soon as Shutdown or Close begins
		return nil
	})
}

// cancelRuns is the feed runs' actor: the runner starts runs (from the
// API, the UI and the scheduler) on goroutines of its own. Interrupted,
// it refuses new runs and cancels the ones in progress, which roll back
// and are recorded as canceled within grace.
func cancelRuns(ctx context.Context, mgr *runner.Manager, grace time.Duration) actor {
	return loopActor(ctx, "feed runs", func(ctx context.Context) error {
		<-ctx.Done()
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
		defer cancel()
		if err := mgr.Shutdown(gctx); err != nil {
			return fmt.Errorf("runs still in progress after the grace period of %s (a longer --grace lets them roll back): %w", grace, err)
		}
		return nil
	})
}

// ExpiryInterval is how often serve marks indicators past their age-out
// as Expired, besides every feed run.
const ExpiryInterval = time.Hour

// expireEvery calls st.ExpireDue every interval until ctx ends, and changed
// when it expired something.
func expireEvery(ctx context.Context, st expirer, interval time.Duration, changed func(), log *slog.Logger) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			n, err := st.ExpireDue(ctx, now)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("periodic expiry failed; the next feed run or tick retries", "err", err)
			case n > 0:
				log.Info("indicators expired", "count", n)
				changed()
			}
		}
	}
}

// expirer is the part of the store the expiry sweeper uses.
type expirer interface {
	ExpireDue(ctx context.Context, now time.Time) (int64, error)
}
