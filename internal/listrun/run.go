package listrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/allowlist"
	"forewarn/internal/store"
)

// Store is what a list run needs from the store.
type Store interface {
	LockFeed(ctx context.Context, feed string) (io.Closer, error)
	CreateRun(ctx context.Context, r *activity.Run) error
	FinishRun(ctx context.Context, r *activity.Run) error
	ListFeedState(ctx context.Context, feed string) (store.ListFeedState, error)
	IngestList(ctx context.Context, run store.ListRun, entries store.ListEntries) (store.ListCounts, error)
	AllowlistEntries(ctx context.Context) ([]allowlist.Entry, error)
}

// Entries is a parser's stream of entries over one body, with its counts:
// Read is every record it read, Invalid those it rejected (each a
// problem, with its line).
type Entries interface {
	store.ListEntries
	Read() int64
	Invalid() int64
	// Problems are the first rejected records (at most a few dozen).
	Problems() []activity.Problem
}

// Feed is what a run needs to know of a list feed.
type Feed struct {
	ID, Source string
	Mode       store.ListMode
	Confidence int
	AgeOut     time.Duration
	// AllowlistSpecialRanges adds the IANA special-purpose ranges to the
	// allow-list, as Seclytics' setting of that name does.
	AllowlistSpecialRanges bool
}

// Options are one run's parts and choices.
type Options struct {
	Trigger string // activity.TriggerCLI, ...
	Fetcher *Fetcher
	// Parse reads entries from the decompressed body.
	Parse func(io.Reader) Entries
	// TempDir holds the spooled body and staging spills.
	TempDir string
	// Now overrides the clock (tests).
	Now func() time.Time
	// OnStart, if set, is called once the run is recorded.
	OnStart func(*activity.Run)
}

// Run runs the feed once and returns its activity record, also when the run
// fails (err says why). Errors before the run is recorded (a run in
// progress, no fetcher or parser) return a nil record.
func Run(ctx context.Context, st Store, f Feed, o Options) (*activity.Run, error) {
	if o.Fetcher == nil || o.Parse == nil {
		return nil, errors.New("list run: no fetcher or parser")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Trigger == "" {
		o.Trigger = activity.TriggerCLI
	}
	lock, err := st.LockFeed(ctx, f.ID)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	host, _ := os.Hostname()
	r := &activity.Run{Feed: f.ID, Trigger: o.Trigger, Status: activity.StatusRunning, StartedAt: o.Now().UTC(),
		Host: host, PID: os.Getpid()}
	if err := st.CreateRun(ctx, r); err != nil {
		return nil, err
	}
	if o.OnStart != nil {
		o.OnStart(r)
	}
	runErr := run(ctx, st, f, o, r)
	finished := o.Now().UTC()
	r.FinishedAt = &finished
	switch {
	case runErr == nil:
	case ctx.Err() != nil:
		r.Status = activity.StatusCanceled
	default:
		r.Status = activity.StatusFailed
	}
	if runErr != nil {
		r.Error = runErr.Error()
	}
	if err := st.FinishRun(context.WithoutCancel(ctx), r); err != nil {
		return r, errors.Join(runErr, err)
	}
	return r, runErr
}

// run fetches, parses and ingests, filling r.
func run(ctx context.Context, st Store, f Feed, o Options, r *activity.Run) error {
	prev, err := st.ListFeedState(ctx, f.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	body, err := o.Fetcher.Fetch(ctx, prev.Validators, o.TempDir)
	if body != nil {
		r.HTTPStatus = body.HTTPStatus
		defer body.Close()
	}
	if err != nil {
		return err
	}
	r.BytesDownloaded = body.Bytes
	if body.NotModified || (prev.Validators.BodySHA256 != "" && body.Validators.BodySHA256 == prev.Validators.BodySHA256) {
		// The list is as the last successful run stored it.
		r.Status = activity.StatusUnchanged
		return nil
	}
	src, err := body.Open()
	if err != nil {
		return fmt.Errorf("read the spooled body: %w", err)
	}
	entries := o.Parse(src)
	ranges, err := allowRanges(ctx, st, f.AllowlistSpecialRanges)
	if err != nil {
		return err
	}
	c, err := st.IngestList(ctx, store.ListRun{Feed: f.ID, Source: f.Source, Mode: f.Mode, Confidence: f.Confidence,
		AgeOut: f.AgeOut, Now: r.StartedAt, Allowlist: ranges, TempDir: o.TempDir, Validators: body.Validators}, entries)
	r.RowsRead, r.Dropped.Invalid = entries.Read(), entries.Invalid()
	for _, p := range entries.Problems() {
		r.AddProblem(p)
	}
	if err != nil {
		return err
	}
	r.RowsKept = c.Entries
	r.IndicatorsCreated, r.IndicatorsUpdated, r.IndicatorsUnchanged = c.Created, c.Updated, c.Unchanged
	r.IndicatorsDelisted = c.Delisted
	r.Status = activity.StatusSucceeded
	return nil
}

// allowRanges are the allow-list's prefixes: the stored entries, and the
// special-purpose ranges when asked.
func allowRanges(ctx context.Context, st Store, special bool) ([]netip.Prefix, error) {
	entries, err := st.AllowlistEntries(ctx)
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	if special {
		for _, e := range allowlist.Special() {
			out = append(out, e.Prefix)
		}
	}
	for _, e := range entries {
		out = append(out, e.Prefix)
	}
	return out, nil
}
