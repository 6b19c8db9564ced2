package feed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"forewarn/internal/activity"
	"forewarn/internal/allowlist"
	"forewarn/internal/config"
	"forewarn/internal/dump"
	"forewarn/internal/feeddef"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/prediction"
	"forewarn/internal/seclytics"
	"forewarn/internal/secret"
	"forewarn/internal/stage"
	"forewarn/internal/store"
)

// Name is the feed's name in the store and the activity log.
const Name = "seclytics"

// Store is what a run needs from the store.
type Store interface {
	FeedConfig(ctx context.Context, name string) (config.Seclytics, store.FeedState, error)
	LockFeed(ctx context.Context, name string) (io.Closer, error)
	CreateRun(ctx context.Context, r *activity.Run) error
	FinishRun(ctx context.Context, r *activity.Run) error
	BeginIngest(ctx context.Context) (store.Tx, error)
	// AllowlistEntries returns the allow-list people added.
	AllowlistEntries(ctx context.Context) ([]allowlist.Entry, error)
}

// Options are one run's choices on top of the stored configuration.
type Options struct {
	Trigger string // activity.TriggerCLI, ...
	// Override changes the stored configuration for this run only.
	Override func(*config.Seclytics) error
	// Token, if set, is used instead of the stored one.
	Token  secret.String
	Since  *time.Time
	Until  *time.Time
	DryRun bool
	// StageDir holds spill files of large runs (default: the system's
	// temporary directory). StageBuffer bounds the memory used for staging.
	StageDir    string
	StageBuffer int
	Progress    *Progress
	Logger      *slog.Logger
	// BackoffBase overrides the retry backoff (tests use a short one).
	BackoffBase time.Duration
	// Now overrides the clock (tests).
	Now func() time.Time
	// OnStart, if set, is called once the run is recorded, before any
	// download: a server replies with the run's id from it.
	OnStart func(*activity.Run)
}

// ErrConfig is wrapped when the configuration (stored or overridden) is
// invalid; no run is recorded.
var ErrConfig = errors.New("invalid configuration")

// Run runs the feed once and returns its activity record. The record is
// returned even when the run fails; err then says why, naming the cause and
// the fix. Errors before the run starts (invalid configuration, a run in
// progress) return a nil record.
func Run(ctx context.Context, st Store, o Options) (*activity.Run, error) {
	if o.Progress == nil {
		o.Progress = &Progress{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Trigger == "" {
		o.Trigger = activity.TriggerCLI
	}
	cfg, state, err := st.FeedConfig(ctx, Name)
	if err != nil {
		return nil, err
	}
	if o.Override != nil {
		if err := o.Override(&cfg); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if o.Token.IsSet() {
		cfg.Token = o.Token
	}

	if !o.DryRun {
		lock, err := st.LockFeed(ctx, Name)
		if err != nil {
			return nil, err
		}
		defer lock.Close()
	}

	now := o.Now().UTC()
	host, _ := os.Hostname()
	r := &activity.Run{
		Feed: Name, Trigger: o.Trigger, Status: activity.StatusRunning, DryRun: o.DryRun, Dataset: cfg.Dataset,
		StartedAt: now, Host: host, PID: os.Getpid(),
	}
	r.Since, r.Until = window(cfg, state, o, now)
	if err := st.CreateRun(ctx, r); err != nil {
		return nil, err
	}
	// Every line about this run carries its id and feed.
	o.Logger = o.Logger.With("run_id", r.ID, "feed", Name)
	if o.OnStart != nil {
		o.OnStart(r)
	}
	o.Logger.Info("run started", "dataset", cfg.Dataset, "window", r.Window(), "dry_run", o.DryRun)

	j := &job{st: st, cfg: cfg, state: state, o: o, r: r}
	runErr := j.run(ctx)

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
		// Last line of defence: no error text carries the token.
		runErr = scrubbedError{runErr, cfg.Token}
		r.Error = runErr.Error()
	}
	o.Progress.setPhase(PhaseDone)
	if err := st.FinishRun(context.WithoutCancel(ctx), r); err != nil {
		return r, errors.Join(runErr, err)
	}
	o.Logger.Info("run finished", "status", r.Status, "rows", r.RowsRead, "kept", r.RowsKept,
		"created", r.IndicatorsCreated, "updated", r.IndicatorsUpdated, "took", r.Duration().String())
	return r, runErr
}

// window picks the run's date window: since is the explicit one, else the
// last successful run's until minus the overlap, else unbounded; until is
// the explicit one, else the run's start.
func window(cfg config.Seclytics, state store.FeedState, o Options, now time.Time) (since, until *time.Time) {
	switch {
	case o.Since != nil:
		t := o.Since.UTC()
		since = &t
	case state.Watermark > 0:
		t := time.Unix(state.Watermark, 0).UTC().Add(-time.Duration(cfg.Overlap))
		since = &t
	}
	u := now.Truncate(time.Second)
	if o.Until != nil {
		u = o.Until.UTC()
	}
	return since, &u
}

type scrubbedError struct {
	err error
	tok secret.String
}

func (e scrubbedError) Error() string { return e.tok.Scrub(e.err.Error()) }
func (e scrubbedError) Unwrap() error { return e.err }

// notADump replaces the decoder's error for a downloaded body that is no
// dump at all: that error quotes the body's first line, and a body from
// the network may be anything the URL reached (a metadata service's
// credentials), while a run's error is readable with a read key. The
// status and content type say enough to find the wrong base URL.
func notADump(err error, resp *seclytics.Response) error {
	sentinel := dump.ErrNotADump
	switch {
	case errors.Is(err, dump.ErrNoIPColumn):
		sentinel = dump.ErrNoIPColumn
	case !errors.Is(err, dump.ErrNotADump):
		return err
	}
	return fmt.Errorf("%w: the server answered HTTP %d with Content-Type %q: check the base URL and the dataset; a proxy or captive portal may have answered instead of Seclytics",
		sentinel, resp.Status, seclytics.ShortText(resp.ContentType))
}

// job is one run in progress.
type job struct {
	st    Store
	cfg   config.Seclytics
	state store.FeedState
	o     Options
	r     *activity.Run
	// allow matches allow-listed addresses; ranges are its prefixes, for
	// the set-based pass over stored indicators.
	allow  *allowlist.Matcher
	ranges []netip.Prefix
}

// loadAllowlist builds the run's allow-list: the stored entries, plus the
// special-purpose ranges unless the configuration turns them off.
func (j *job) loadAllowlist(ctx context.Context) error {
	entries, err := j.st.AllowlistEntries(ctx)
	if err != nil {
		return err
	}
	j.allow = allowlist.NewMatcher(entries, j.cfg.AllowlistSpecialRanges)
	j.ranges = j.ranges[:0]
	if j.cfg.AllowlistSpecialRanges {
		for _, e := range allowlist.Special() {
			j.ranges = append(j.ranges, e.Prefix)
		}
	}
	for _, e := range entries {
		j.ranges = append(j.ranges, e.Prefix)
	}
	return nil
}

// lifecycle applies, in the run's transaction tx, what does not depend on
// the dump: the allow-list to stored indicators, then expiry of those past
// their age-out (as of the run's start).
func (j *job) lifecycle(ctx context.Context, tx store.Tx) error {
	now := j.r.StartedAt
	if _, err := tx.Whitelist(ctx, j.ranges, now); err != nil {
		return err
	}
	n, err := tx.ExpireDue(ctx, now)
	if err != nil {
		return err
	}
	j.r.IndicatorsExpired += n
	return nil
}

// lifecycleOnly runs the lifecycle in a transaction of its own, for a run
// that found the dump unchanged: expiry and allow-list still apply.
func (j *job) lifecycleOnly(ctx context.Context) error {
	tx, err := j.st.BeginIngest(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.ApplyAgeOut(ctx, Name, j.cfg.AgeOut.Seconds()); err != nil {
		return err
	}
	if err := j.lifecycle(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (j *job) run(ctx context.Context) error {
	cfg, r, prog := j.cfg, j.r, j.o.Progress
	client := seclytics.New(seclytics.Options{
		BaseURL: cfg.BaseURL, Token: cfg.Token, Tries: cfg.Tries,
		ConnectTimeout: time.Duration(cfg.ConnectTimeout), IdleTimeout: time.Duration(cfg.IdleTimeout),
		MaxBody: int64(cfg.MaxCompressed), BackoffBase: j.o.BackoffBase, Logger: j.o.Logger,
		OnRetry: prog.retrying,
	})
	req := seclytics.Request{Dataset: cfg.Dataset}
	// Validators are only worth sending if the last ingest used the same
	// parameters and saw every row this run could keep. A dry run and a
	// run with an explicit window always read the whole dump.
	sameParams := j.state.Fingerprint == cfg.Fingerprint() && j.o.Since == nil && j.o.Until == nil
	if !j.o.DryRun && sameParams {
		req.ETag, req.LastModified = j.state.ETag, j.state.LastModified
	}
	prog.setPhase(PhaseDownload)
	resp, err := client.Fetch(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	r.HTTPStatus = resp.Status
	if err := j.loadAllowlist(ctx); err != nil {
		return err
	}
	if resp.NotModified {
		r.Status = activity.StatusUnchanged
		return j.lifecycleOnly(ctx)
	}
	prog.totalBytes.Store(resp.Length)

	hash := sha256.New()
	body := io.TeeReader(countingReader{resp.Body, &prog.bytes}, hash)
	dr, err := dump.NewReader(body, dump.Limits{MaxDecompressed: int64(cfg.MaxDecompressed), MaxLine: int(cfg.MaxLine)})
	if err != nil {
		r.BytesDownloaded = prog.bytes.Load()
		return fmt.Errorf("read the %s dump: %w", cfg.Dataset, notADump(err, resp))
	}
	defer dr.Close()

	sorter := stage.New(j.o.StageDir, merge.KeyLen, j.o.StageBuffer)
	defer sorter.Close()
	if err := j.readDump(ctx, dr, sorter); err != nil {
		r.BytesDownloaded = prog.bytes.Load()
		return err
	}
	// Drain what the decoder did not need (a gzip trailer's padding), so
	// that the checksum covers the whole body.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return fmt.Errorf("read the %s dump: %w", cfg.Dataset, err)
	}
	r.BytesDownloaded = prog.bytes.Load()
	sum := hex.EncodeToString(hash.Sum(nil))
	if r.RowsRead == 0 {
		j.o.Logger.Warn("the dump holds no rows", "dataset", cfg.Dataset, "bytes", r.BytesDownloaded)
		r.AddProblem(activity.Problem{Kind: activity.ProblemWarning, Message: "the dump holds no rows"})
		r.Warnings++
	}
	if j.o.DryRun {
		r.Status = activity.StatusSucceeded
		return nil
	}
	if resp.ETag == "" && resp.LastModified == "" && sameParams && sum == j.state.BodySHA256 {
		r.Status = activity.StatusUnchanged
		return j.lifecycleOnly(ctx)
	}

	prog.setPhase(PhaseMerge)
	tx, err := j.st.BeginIngest(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.ApplyAgeOut(ctx, Name, cfg.AgeOut.Seconds()); err != nil {
		return err
	}
	if err := j.merge(ctx, tx, sorter); err != nil {
		return err
	}
	if err := j.lifecycle(ctx, tx); err != nil {
		return err
	}
	prog.setPhase(PhaseCommit)
	next := store.FeedState{
		Watermark: r.Until.Unix(), ETag: resp.ETag, LastModified: resp.LastModified,
		BodySHA256: sum, Fingerprint: cfg.Fingerprint(),
	}
	if cfg.FilterByDate && j.o.Until != nil {
		// Rows dated after an explicit until were left out: the next run
		// must read this same dump again rather than skip it as unchanged.
		next.ETag, next.LastModified, next.BodySHA256 = "", "", ""
	}
	if err := tx.SaveFeedState(ctx, Name, next); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run canceled before commit; nothing was written: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	r.Status = activity.StatusSucceeded
	return nil
}

// readDump decodes every record with dump, maps, validates and filters it
// through the seclytics definition (seclytics.yaml: the one description
// of a dump's fields, their types and the filters of the configuration),
// and stages the kept ones.
func (j *job) readDump(ctx context.Context, dr *dump.Reader, sorter *stage.Sorter) error {
	cfg, r, prog := j.cfg, j.r, j.o.Progress
	def := definition(cfg)
	p := feeddef.Params{Now: r.StartedAt, Settings: map[string]string{
		"threshold":      strconv.FormatFloat(cfg.Threshold, 'f', -1, 64),
		"categories":     strings.Join(cfg.Categories, ","),
		"filter_by_date": strconv.FormatBool(cfg.FilterByDate),
		// The mapper below selects the context and normalizes: the
		// staged rows carry every attribute the selection asks for.
		"context": "all",
	}}
	if r.Since != nil {
		p.Since = *r.Since
	}
	if r.Until != nil {
		p.Until = *r.Until
	}
	m, err := def.NewMapper(p)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	// The dump column of each field the definition reads.
	cols := make([]dump.Column, len(m.Fields()))
	for i, name := range m.Fields() {
		cols[i] = -1
		for c, cn := range dump.ColumnNames {
			if strings.EqualFold(cn, name) {
				cols[i] = dump.Column(c)
			}
		}
		if cols[i] < 0 {
			return fmt.Errorf("the %s definition reads a field %q that no dump column holds", Name, name)
		}
	}
	// Only an NDJSON record has arrays.
	csv := dr.Format() == dump.FormatCSV
	var (
		dropped = make([]*int64, len(def.Filters))
		vals    = make([][]byte, len(cols))
		arrays  = make([]bool, len(cols))
		joined  = make([][]byte, len(cols))
		conv    = newEntryRow(def)
		seq     uint64
	)
	for i, f := range def.Filters {
		switch f.Type {
		case feeddef.FilterAtLeast:
			dropped[i] = &r.Dropped.BelowThreshold
		case feeddef.FilterAnyOf:
			dropped[i] = &r.Dropped.CategoryNotListed
		default:
			dropped[i] = &r.Dropped.OutsideWindow
		}
	}
	mapper := merge.NewMapper(merge.NewSelection(cfg.Context, cfg.Normalize))
	for {
		rec, err := dr.Next()
		if err == io.EOF {
			return nil
		}
		if seq&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("run canceled while reading the dump; nothing was written: %w", err)
			}
		}
		seq++
		r.RowsRead++
		prog.rows.Add(1)
		if err != nil {
			var re *dump.RowError
			if !errors.As(err, &re) {
				return fmt.Errorf("read the %s dump: %w", cfg.Dataset, err)
			}
			r.Dropped.Invalid++
			r.AddProblem(activity.Problem{Line: re.Line, Kind: activity.ProblemInvalid, Message: re.Reason})
			continue
		}
		for i, c := range cols {
			if csv {
				vals[i] = rec.Fields[c]
				continue
			}
			vals[i], arrays[i] = rec.Fields[c], rec.Lists[c] != nil
			if arrays[i] {
				// An NDJSON array: its items, joined as the definition
				// reads a JSON array.
				joined[i] = joined[i][:0]
				for k, it := range rec.Lists[c] {
					if k > 0 {
						joined[i] = append(joined[i], feeddef.ListSep)
					}
					joined[i] = append(joined[i], it...)
				}
				vals[i] = joined[i]
			}
		}
		e, why, filtered := m.MapFields(rec.Line, vals, arrays)
		if why != "" {
			r.Dropped.Invalid++
			r.AddProblem(activity.Problem{Line: rec.Line, Kind: activity.ProblemInvalid, Message: why})
			continue
		}
		if filtered >= 0 {
			// The definition does not map what its filters do not read
			// on a row they drop: no warning comes from such a row.
			*dropped[filtered]++
			continue
		}
		for _, w := range e.Warnings {
			r.Warnings++
			r.AddProblem(activity.Problem{Line: rec.Line, Kind: activity.ProblemWarning, Message: w})
		}
		row := conv.row(e, m)
		r.RowsKept++
		prog.kept.Add(1)
		countImportance(&r.KeptByImportance, row)
		if j.allow.Contains(row.Addr) {
			r.RowsAllowlisted++
		}
		if j.o.DryRun {
			continue
		}
		k, v := mapper.Map(row, seq)
		if err := sorter.Add(k, v); err != nil {
			return fmt.Errorf("stage rows: %w", err)
		}
	}
}

// definition returns seclytics.yaml with the configuration's widest
// predicted netblock.
func definition(cfg config.Seclytics) *feeddef.Definition {
	d := *feeddef.Builtin(Name)
	d.Attributes = slices.Clone(d.Attributes)
	for i := range d.Attributes {
		if a := &d.Attributes[i]; a.Type == feeddef.TypeCIDR {
			v4, v6 := cfg.MaxNetblock.IPv4, cfg.MaxNetblock.IPv6
			a.MaxPrefix = &feeddef.MaxPrefix{IPv4: &v4, IPv6: &v6, Setting: "max_netblock"}
		}
	}
	return &d
}

// entryRow turns an entry of the seclytics definition into the row the
// stage's mapper encodes, reading the attributes by their position in the
// definition and reusing its buffers from one entry to the next.
type entryRow struct {
	r     prediction.Row
	at    [len(rowAttrs)]int // index of each of rowAttrs in the definition, -1 if absent
	lists [3][][]byte
}

// rowAttrs are the attributes a prediction.Row holds, in the order of
// entryRow.at.
var rowAttrs = [...]string{
	indicator.AttrPredictedAt, indicator.AttrDetectedAt, indicator.AttrLastSeenAt,
	indicator.AttrPredictedNetblock, indicator.AttrPredictedCategory, indicator.AttrCluster,
	indicator.AttrDetectedBy, indicator.AttrDetectedIdentifiers, indicator.AttrDetectedCategories,
	indicator.AttrImportance,
}

func newEntryRow(def *feeddef.Definition) *entryRow {
	c := &entryRow{}
	names := def.AttributeNames()
	for k, name := range rowAttrs {
		c.at[k] = slices.Index(names, name)
	}
	return c
}

// bytesOf views an interned string as bytes without copying: the mapper
// only reads them, copying them into its own buffer.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (c *entryRow) row(e *feeddef.Entry, m *feeddef.Reader) *prediction.Row {
	row := &c.r
	*row = prediction.Row{Line: e.Line, Addr: e.Prefix.Addr()}
	val := func(k int) *indicator.Value {
		if c.at[k] < 0 {
			return &indicator.Value{}
		}
		return m.Value(c.at[k])
	}
	date := func(k int) int64 {
		if v := val(k); v.Kind == indicator.KindDate {
			return v.Time.Unix()
		}
		return prediction.NoTime
	}
	text := func(k int) []byte {
		if v := val(k); v.Kind == indicator.KindText {
			return bytesOf(v.Text)
		}
		return nil
	}
	list := func(k, slot int) [][]byte {
		out := c.lists[slot][:0]
		if v := val(k); v.Kind == indicator.KindList {
			for _, it := range v.List {
				out = append(out, bytesOf(it))
			}
		}
		c.lists[slot] = out
		return out
	}
	row.PredictedAt, row.DetectedAt, row.LastSeenAt = date(0), date(1), date(2)
	if v := val(3); v.Kind == indicator.KindCIDR {
		row.PredictedNetblock = v.Prefix
	}
	row.PredictedCategory, row.Cluster = text(4), text(5)
	row.DetectedBy, row.DetectedIdentifiers, row.DetectedCategories = list(6, 0), list(7, 1), list(8, 2)
	if v := val(9); v.Kind == indicator.KindNumber {
		row.Importance, row.HasImportance = v.Number, true
	}
	return row
}

// mergeBatch is a batch of folded records on its way from the goroutine
// that folds them to the one that merges them into the store.
type mergeBatch struct {
	recs   [store.BatchSize]merge.Record
	hashes [store.BatchSize]uint64
	lcs    [store.BatchSize]merge.Lifecycle
	n      int
}

// mergeBuffers is how many batches are in flight: one being folded, one
// being merged, one waiting between them.
const mergeBuffers = 3

// merge folds the staged rows per IP and merges them into the store in
// batches, on two goroutines: one reads the staged rows, folds, hashes
// and decides each record's lifecycle (fold); this one alone uses the
// transaction, loading, merging and writing each batch while the next is
// folded.
func (j *job) merge(ctx context.Context, tx store.Tx, sorter *stage.Sorter) error {
	it, err := sorter.Iterator()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free, full := make(chan *mergeBatch, mergeBuffers), make(chan *mergeBatch, mergeBuffers)
	for range mergeBuffers {
		free <- new(mergeBatch)
	}
	var capped int64
	foldErr := make(chan error, 1)
	go func() {
		defer close(full)
		var err error
		capped, err = j.fold(ctx, it, free, full)
		foldErr <- err
	}()
	var (
		counts  merge.Counts
		stored  = make([]*merge.Stored, 0, store.BatchSize)
		changed = make([]*merge.Stored, 0, store.BatchSize)
		now     = j.r.StartedAt.Unix()
	)
	apply := func(b *mergeBatch) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("run canceled while merging; nothing was written: %w", err)
		}
		stored = stored[:0]
		for i := 0; i < b.n; i++ {
			stored = append(stored, &merge.Stored{Record: merge.Record{Addr: b.recs[i].Addr}, NewHash: b.hashes[i], NewLifecycle: b.lcs[i]})
		}
		if err := tx.Load(ctx, stored); err != nil {
			return err
		}
		changed = changed[:0]
		for i, st := range stored {
			if st.Unchanged {
				// The store says this exact record was merged before:
				// merging it again would change nothing.
				counts.IndicatorsUnchanged++
				continue
			}
			modified := merge.ApplyLifecycle(st, &b.recs[i], j.r.ID, b.lcs[i], &counts)
			if modified || st.Hash != b.hashes[i] {
				st.Hash, st.SeenAt = b.hashes[i], now
				changed = append(changed, st)
			}
		}
		if err := tx.Write(ctx, changed); err != nil {
			return err
		}
		j.o.Progress.merged.Add(int64(b.n))
		return nil
	}
	var applyErr error
	for b := range full {
		if applyErr == nil {
			if applyErr = apply(b); applyErr != nil {
				cancel() // stops the fold; drain what it already sent
			}
		}
		free <- b
	}
	ferr := <-foldErr
	switch {
	case applyErr != nil:
		return applyErr
	case ferr != nil && ctx.Err() != nil: // only the run's context ends it
		return fmt.Errorf("run canceled while merging; nothing was written: %w", ferr)
	case ferr != nil:
		return ferr
	}
	counts.ListsCapped += capped
	expired := j.r.IndicatorsExpired
	j.r.Counts = runCounts(counts)
	j.r.IndicatorsExpired += expired
	if counts.ListsCapped > 0 {
		// Once per run: the cap is a property of the dump, not of a row.
		j.r.Warnings++
		j.r.AddProblem(activity.Problem{Kind: activity.ProblemWarning, Message: fmt.Sprintf(
			"%d indicators had a list of more than %d values; only the newest %d were kept", counts.ListsCapped, merge.MaxListValues, merge.MaxListValues)})
	}
	return nil
}

// fold reads the staged rows in key order, folds each address's rows into
// one record, and sends full batches, each with its records' hashes and
// lifecycles, to full, taking empty ones from free. It returns how many
// records had a list capped.
func (j *job) fold(ctx context.Context, it *stage.Iterator, free <-chan *mergeBatch, full chan<- *mergeBatch) (int64, error) {
	var (
		capped   int64
		b        *mergeBatch
		open     bool
		cut      bool // the open record lost list values to the cap
		prevKey  = make([]byte, 0, merge.KeyLen)
		row      merge.Record
		interner merge.Interner
		now      = j.r.StartedAt.Unix()
		ageOut   = j.cfg.AgeOut.Seconds()
	)
	take := func() error {
		select {
		case b = <-free:
			b.n = 0
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	send := func() error {
		for i := 0; i < b.n; i++ {
			r := &b.recs[i]
			b.hashes[i] = r.Hash()
			b.lcs[i] = merge.NewLifecycle(now, ageOut, r.Has.Has(merge.LastSeenAt), j.allow.Contains(r.Addr))
		}
		select {
		case full <- b:
			b = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	finish := func() {
		if merge.Finish(&b.recs[b.n]) || cut {
			capped++
		}
		b.n++
		open, cut = false, false
	}
	if err := take(); err != nil {
		return 0, err
	}
	for it.Next() {
		key := it.Key()
		if open && !merge.SameAddr(prevKey, key) {
			finish()
			if b.n == len(b.recs) {
				if err := send(); err != nil {
					return 0, err
				}
				if err := take(); err != nil {
					return 0, err
				}
			}
		}
		if err := merge.Decode(key, it.Value(), &row, &interner); err != nil {
			return 0, err
		}
		if !open {
			b.recs[b.n].Reset()
			open = true
		}
		cut = merge.Fold(&b.recs[b.n], &row) || cut
		prevKey = append(prevKey[:0], key...)
	}
	if err := it.Err(); err != nil {
		return 0, err
	}
	if open {
		finish()
	}
	if b.n > 0 {
		if err := send(); err != nil {
			return 0, err
		}
	}
	return capped, nil
}

// countImportance counts a kept row under its normalized importance.
func countImportance(c *activity.ByImportance, row *prediction.Row) {
	if !row.HasImportance {
		c.None++
		return
	}
	switch indicator.NormalizeImportance(row.Importance) {
	case indicator.High:
		c.High++
	case indicator.Medium:
		c.Medium++
	default:
		c.Low++
	}
}
