package service

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"sync"

	"forewarn/internal/activity"
	"forewarn/internal/allowlist"
	"forewarn/internal/apikey"
	"forewarn/internal/config"
	"forewarn/internal/indicator"
	"forewarn/internal/runner"
	"forewarn/internal/store"
)

// Actor is who performs an operation: an API key (through the API or a
// web UI session signed in with it) or the command line.
type Actor struct {
	KeyID int64  // the API key's id; 0 for the command line
	Name  string // the key's name, or the command line's user
	Via   string // "api", "ui" or "cli"
}

// Key is the actor of a request authenticated with the API key k.
func Key(k store.APIKey, via string) Actor { return Actor{KeyID: k.ID, Name: k.Name, Via: via} }

// CLI is the actor of a command: user names who ran it (the allow-list's
// "added by"); empty means "cli".
func CLI(user string) Actor {
	if user == "" {
		user = "cli"
	}
	return Actor{Name: user, Via: "cli"}
}

func (a Actor) String() string {
	if a.KeyID == 0 {
		return a.Name + " (" + a.Via + ")"
	}
	return a.Name + " (key " + strconv.FormatInt(a.KeyID, 10) + ", " + a.Via + ")"
}

// The store, as each group of operations needs it.
type (
	feedStore interface {
		FeedConfig(ctx context.Context, name string) (config.Seclytics, store.FeedState, error)
		SaveFeedConfig(ctx context.Context, name string, cfg config.Seclytics) error
		SetFeedEnabled(ctx context.Context, name string, enabled bool) error
		DeleteFeed(ctx context.Context, name string, purge bool) (int64, error)
	}
	runStore interface {
		Run(ctx context.Context, id int64) (activity.Run, error)
	}
	indicatorStore interface {
		SetIndicatorStatus(ctx context.Context, addr netip.Addr, st indicator.Status) (indicator.Indicator, error)
		Lookup(ctx context.Context, addr netip.Addr) (indicator.Indicator, error)
	}
	allowlistStore interface {
		AddAllowlistEntry(ctx context.Context, e allowlist.Entry) (allowlist.Entry, int64, error)
		RemoveAllowlistEntry(ctx context.Context, p netip.Prefix) error
	}
	keyStore interface {
		CreateNotedAPIKey(ctx context.Context, name string, role apikey.Role, note string) (string, store.APIKey, error)
		RevokeAPIKey(ctx context.Context, nameOrID string) (store.APIKey, error)
		APIKeys(ctx context.Context) ([]store.APIKey, error)
	}
	outputStore interface {
		CreateOutput(ctx context.Context, o store.Output, keyHash string) (store.Output, error)
		Outputs(ctx context.Context) ([]store.Output, error)
		OutputNamed(ctx context.Context, name string) (store.Output, error)
		DeleteOutput(ctx context.Context, name string) error
		SetOutputKey(ctx context.Context, name, keyHash, keyPrefix string) (store.Output, error)
	}
	auditStore interface {
		RecordAudit(ctx context.Context, e store.AuditEntry) error
	}
)

// Store is everything the operations write: *store.Store.
type Store interface {
	feedStore
	runStore
	indicatorStore
	allowlistStore
	keyStore
	sessionStore
	outputStore
	auditStore
	sightingStore
	listFeedStore
	leadTimeStore
}

// Runner starts and cancels runs in this process (*runner.Manager).
type Runner interface {
	Start(feed string, req runner.Request) (*runner.Active, error)
	Cancel(id int64) bool
	// Running is the feed's run in progress in this process, dry runs
	// included.
	Running(feed string) (*runner.Active, bool)
}

// Scheduler follows a feed's stored state (serve's schedule).
type Scheduler interface {
	Reschedule(ctx context.Context, feed string) error
}

// Deps are what the operations drive.
type Deps struct {
	Store Store
	// Runner starts runs; nil where runs are not started in the
	// background (the command line runs a feed in the foreground).
	Runner Runner
	// Scheduler is told about feed changes; nil outside serve.
	Scheduler Scheduler
	// Changed is called after an operation changed indicators (a status,
	// a purge, an allow-list entry), so metrics and the lookup index
	// catch up. May be nil.
	Changed func()
	Log     *slog.Logger
	// Feeds are the feeds this forewarn knows, by name.
	Feeds []string
}

// Service performs the operations.
type Service struct {
	d Deps
	// starting makes "is the feed running? then start it" one step, so
	// two requests cannot both start a run of a feed.
	starting sync.Mutex
	// commit serialises the list runs' writes (ListRun).
	commit sync.Mutex
}

// New returns the service.
func New(d Deps) *Service {
	if d.Changed == nil {
		d.Changed = func() {}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d}
}

// Feeds are the feeds this forewarn knows.
func (s *Service) Feeds() []string { return s.d.Feeds }

// CheckFeed returns an *UnknownFeedError if forewarn knows no feed name.
func (s *Service) CheckFeed(name string) error {
	if !slices.Contains(s.d.Feeds, name) {
		return &UnknownFeedError{Name: name, Feeds: s.d.Feeds}
	}
	return nil
}

// record writes the operation to the audit log and the process log. The
// operation has happened by then: a failure to record it is logged, not
// returned, so the person is not told that what was done was not.
func (s *Service) record(ctx context.Context, a Actor, action, target, detail string) {
	s.d.Log.Info(action, "target", target, "detail", detail, "by", a.Name, "key_id", a.KeyID, "via", a.Via)
	err := s.d.Store.RecordAudit(context.WithoutCancel(ctx), store.AuditEntry{KeyID: a.KeyID, Actor: a.Name, Via: a.Via,
		Action: action, Target: target, Detail: detail})
	if err != nil {
		s.d.Log.Error("audit log not written", "action", action, "target", target, "by", a.Name, "err", err)
	}
}

// reschedule tells serve's schedule about a feed's new state.
func (s *Service) reschedule(ctx context.Context, feed string) error {
	if s.d.Scheduler == nil {
		return nil
	}
	return s.d.Scheduler.Reschedule(ctx, feed)
}
