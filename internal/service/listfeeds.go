package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/feeddef"
	"forewarn/internal/feedrun"
	"forewarn/internal/listrun"
	"forewarn/internal/secret"
	"forewarn/internal/store"
)

// listFeedStore is what the operations on list feeds and definitions need.
type listFeedStore interface {
	listrun.Store
	ListFeedConfig(ctx context.Context, name string) (store.ListFeedConfig, bool, error)
	SaveListFeedConfig(ctx context.Context, name string, cfg store.ListFeedConfig) error
	AddFeedDefinition(ctx context.Context, d store.FeedDefinition) error
	RemoveFeedDefinition(ctx context.Context, id string) error
	FeedDefinitions(ctx context.Context) ([]store.FeedDefinition, error)
	FeedSummary(ctx context.Context, name string) (store.FeedSummary, error)
}

// Feed is one feed forewarn knows: its definition, whether it is built in,
// its schedule (configured, else the definition's) and its state.
type Feed struct {
	Definition *feeddef.Definition
	Builtin    bool
	Schedule   string
	store.FeedSummary
}

// seclyticsID is the feed run by package feed rather than by a list run.
const seclyticsID = "seclytics"

// Definition returns the definition of feed id: a built-in one, else a
// custom one from the store. An unknown id is an *UnknownFeedError.
func (s *Service) Definition(ctx context.Context, id string) (d *feeddef.Definition, builtin bool, err error) {
	if d := feeddef.Builtin(id); d != nil {
		return d, true, nil
	}
	defs, err := s.customDefinitions(ctx)
	if err != nil {
		return nil, false, err
	}
	for _, d := range defs {
		if d.ID == id {
			return d, false, nil
		}
	}
	ids, err := s.feedIDs(ctx)
	if err != nil {
		return nil, false, err
	}
	return nil, false, &UnknownFeedError{Name: id, Feeds: ids}
}

// customDefinitions parses the stored definitions. One that this version
// refuses is skipped, so one bad row does not hide every feed; removing it
// stays possible (feed rm).
func (s *Service) customDefinitions(ctx context.Context) ([]*feeddef.Definition, error) {
	rows, err := s.d.Store.FeedDefinitions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*feeddef.Definition, 0, len(rows))
	for _, r := range rows {
		d, err := feeddef.Parse(r.Source)
		if err != nil || d.ID != r.ID {
			s.d.Log.Warn("stored feed definition skipped: this forewarn refuses it; remove it with forewarn feed rm", "feed", r.ID, "err", err)
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *Service) feedIDs(ctx context.Context) ([]string, error) {
	var ids []string
	for _, d := range feeddef.Builtins() {
		ids = append(ids, d.ID)
	}
	custom, err := s.d.Store.FeedDefinitions(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range custom {
		ids = append(ids, d.ID)
	}
	slices.Sort(ids)
	return ids, nil
}

// ListFeedIDs are the ids of the list feeds: built-in and custom.
func (s *Service) ListFeedIDs(ctx context.Context) ([]string, error) {
	ids, err := s.feedIDs(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ids, func(id string) bool { return !IsListFeed(id) }), nil
}

// ListFeedSchedule is a list feed's scheduling state: enabled, and its
// schedule (configured, else its definition's, else daily).
func (s *Service) ListFeedSchedule(ctx context.Context, id string) (schedule string, enabled bool, err error) {
	d, _, err := s.Definition(ctx, id)
	if err != nil {
		return "", false, err
	}
	cfg, enabled, err := s.d.Store.ListFeedConfig(ctx, id)
	if err != nil {
		return "", false, err
	}
	switch {
	case cfg.Schedule != "":
		return cfg.Schedule, enabled, nil
	case d.Schedule != "":
		return d.Schedule, enabled, nil
	}
	return config.DefaultFrequency, enabled, nil
}

// ListFeedConfig is a list feed's stored configuration, for the edges to
// show (its secret only as whether one is set).
func (s *Service) ListFeedConfig(ctx context.Context, id string) (store.ListFeedConfig, error) {
	if _, _, err := s.Definition(ctx, id); err != nil {
		return store.ListFeedConfig{}, err
	}
	cfg, _, err := s.d.Store.ListFeedConfig(ctx, id)
	return cfg, err
}

// KnownFeed is CheckFeed for every feed: Seclytics, the built-in list
// feeds and the custom ones; an unknown one is an *UnknownFeedError.
func (s *Service) KnownFeed(ctx context.Context, name string) error { return s.checkAnyFeed(ctx, name) }

// checkAnyFeed is CheckFeed for every feed: Seclytics, the built-in list
// feeds and the custom ones.
func (s *Service) checkAnyFeed(ctx context.Context, name string) error {
	if slices.Contains(s.d.Feeds, name) {
		return nil
	}
	_, _, err := s.Definition(ctx, name)
	return err
}

// IsListFeed says whether name is a list feed (every feed but Seclytics).
func IsListFeed(name string) bool { return name != seclyticsID }

// Feeds lists every feed: the built-in ones, then the custom ones, by id.
func (s *Service) ListFeeds(ctx context.Context) ([]Feed, error) {
	custom, err := s.customDefinitions(ctx)
	if err != nil {
		return nil, err
	}
	var out []Feed
	add := func(d *feeddef.Definition, builtin bool) error {
		f := Feed{Definition: d, Builtin: builtin, Schedule: d.Schedule}
		if f.FeedSummary, err = s.d.Store.FeedSummary(ctx, d.ID); err != nil {
			return err
		}
		if IsListFeed(d.ID) {
			cfg, _, err := s.d.Store.ListFeedConfig(ctx, d.ID)
			if err != nil {
				return err
			}
			if cfg.Schedule != "" {
				f.Schedule = cfg.Schedule
			}
		}
		out = append(out, f)
		return nil
	}
	for _, d := range feeddef.Builtins() {
		if err := add(d, true); err != nil {
			return nil, err
		}
	}
	for _, d := range custom {
		if err := add(d, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AddDefinition validates a custom definition and stores it. Its problems
// are a *ValidationError on field "definition", each message starting
// with its line:column; an id taken by a built-in or a stored definition
// is a conflict.
func (s *Service) AddDefinition(ctx context.Context, a Actor, src []byte) (*feeddef.Definition, error) {
	if len(src) > store.MaxFeedDefinition {
		return nil, invalid("definition", "is %d bytes, over %d: a definition is a short YAML file", len(src), store.MaxFeedDefinition)
	}
	d, err := feeddef.Parse(src)
	if err != nil {
		var ps feeddef.Problems
		if !errors.As(err, &ps) {
			return nil, invalid("definition", "%s", err)
		}
		ve := &ValidationError{}
		for _, p := range ps {
			ve.Fields = append(ve.Fields, FieldError{"definition", p.String()})
		}
		return nil, ve
	}
	if feeddef.Builtin(d.ID) != nil {
		return nil, conflict("feed %s is built in: give the definition another id", d.ID)
	}
	if err := s.d.Store.AddFeedDefinition(ctx, store.FeedDefinition{ID: d.ID, Source: src, AddedBy: a.String()}); err != nil {
		return nil, err
	}
	if err := s.reschedule(ctx, d.ID); err != nil {
		return d, err
	}
	s.record(ctx, a, "feed.add", d.ID, d.Title)
	return d, nil
}

// RemoveDefinition removes a custom definition: the feed stops being
// scheduled; its configuration, activity log and indicators stay (forewarn
// uninstall purges them). A built-in feed cannot be removed.
func (s *Service) RemoveDefinition(ctx context.Context, a Actor, id string) error {
	if feeddef.Builtin(id) != nil {
		return conflict("feed %s is built in and cannot be removed: disable it instead", id)
	}
	if err := s.d.Store.RemoveFeedDefinition(ctx, id); err != nil {
		return err
	}
	if err := s.reschedule(ctx, id); err != nil {
		return err
	}
	s.record(ctx, a, "feed.remove", id, "")
	return nil
}

// ListFeedChange is a change of a list feed's configuration as a person
// gives it: parameter values (an empty value resets a parameter to its
// default), and optionally a base URL, a schedule and a secret.
type ListFeedChange struct {
	Set            map[string]string
	BaseURL        *string
	Schedule       *string
	Token          secret.String
	TokenGiven     bool
	ClearToken     bool
	EnableOnCreate bool
}

// ConfigureListFeed validates a change against the feed's definition and
// stores the result; it returns the configuration as stored.
func (s *Service) ConfigureListFeed(ctx context.Context, a Actor, id string, ch ListFeedChange) (store.ListFeedConfig, error) {
	d, _, err := s.Definition(ctx, id)
	if err != nil {
		return store.ListFeedConfig{}, err
	}
	cfg, _, err := s.d.Store.ListFeedConfig(ctx, id)
	if err != nil {
		return cfg, err
	}
	next := cfg
	next.Settings = maps.Clone(cfg.Settings)
	if next.Settings == nil {
		next.Settings = map[string]string{}
	}
	var changed []string
	for _, k := range slices.Sorted(maps.Keys(ch.Set)) {
		if d.Parameter(k) == nil {
			return cfg, invalid(k, "feed %s has no parameter %s: its parameters are %s", id, k, strings.Join(parameterNames(d), ", "))
		}
		if v := ch.Set[k]; v == "" {
			delete(next.Settings, k)
		} else {
			next.Settings[k] = v
		}
		changed = append(changed, k)
	}
	if _, err := d.Settings(next.Settings); err != nil {
		return cfg, invalid("settings", "%s", err)
	}
	if ch.BaseURL != nil {
		next.BaseURL = strings.TrimSpace(*ch.BaseURL)
		if _, err := d.URL(next.BaseURL, next.Settings); err != nil {
			return cfg, invalid("base_url", "%s", err)
		}
		changed = append(changed, "base_url")
	}
	if ch.Schedule != nil {
		next.Schedule = strings.TrimSpace(*ch.Schedule)
		if err := checkSchedule(next.Schedule); err != nil {
			return cfg, err
		}
		changed = append(changed, "schedule")
	}
	switch {
	case ch.ClearToken:
		next.Token = secret.String{}
		changed = append(changed, "token")
	case ch.TokenGiven:
		next.Token = ch.Token
		changed = append(changed, "token")
	}
	if err := s.d.Store.SaveListFeedConfig(ctx, id, next); err != nil {
		return cfg, err
	}
	if err := s.reschedule(ctx, id); err != nil {
		return next, err
	}
	s.record(ctx, a, "feed.configure", id, "changed: "+strings.Join(changed, ", "))
	return next, nil
}

// checkSchedule accepts what Seclytics' frequency accepts: an interval
// (6h) or a cron expression in UTC.
func checkSchedule(v string) error {
	if v == "" {
		return nil
	}
	if _, err := config.ParseFrequency(v); err != nil {
		return invalid("schedule", "%q is not an interval such as 6h nor a cron expression such as \"0 3 * * *\"", v)
	}
	return nil
}

func parameterNames(d *feeddef.Definition) []string {
	if len(d.Parameters) == 0 {
		return []string{"(none)"}
	}
	out := make([]string, len(d.Parameters))
	for i, p := range d.Parameters {
		out[i] = p.Name
	}
	return out
}

// ListRunOptions are a foreground run's choices.
type ListRunOptions struct {
	Trigger string
	// BaseURL, if set, fetches from this origin for this run only (a
	// mirror or a test server), keeping the publisher's path.
	BaseURL string
	TempDir string
	OnStart func(*activity.Run)
}

// RunListFeed runs a list feed once in this process with its stored
// configuration, for a person (audit-logged), and returns the run's record
// (also when it failed).
func (s *Service) RunListFeed(ctx context.Context, a Actor, id string, o ListRunOptions) (*activity.Run, error) {
	onStart := o.OnStart
	o.OnStart = func(r *activity.Run) {
		s.record(ctx, a, "run.start", fmt.Sprintf("%s run %d", id, r.ID), "")
		if onStart != nil {
			onStart(r)
		}
	}
	return s.ListRun(ctx, id, o)
}

// ListRun runs a list feed once with its stored configuration: the
// runner's (scheduled and manual runs in serve, audited by StartRun).
// Runs of different feeds download and parse side by side; their writes
// to the store are serialised, one run's commit at a time.
func (s *Service) ListRun(ctx context.Context, id string, o ListRunOptions) (*activity.Run, error) {
	if !IsListFeed(id) {
		return nil, invalid("feed", "%s is not a list feed: run it with forewarn run %s", id, id)
	}
	d, _, err := s.Definition(ctx, id)
	if err != nil {
		return nil, err
	}
	cfg, _, err := s.d.Store.ListFeedConfig(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.BaseURL != "" {
		if _, err := d.URL(o.BaseURL, cfg.Settings); err != nil {
			return nil, invalid("base_url", "%s", err)
		}
		cfg.BaseURL = o.BaseURL
	}
	st := serialIngest{listFeedStore: s.d.Store, mu: &s.commit}
	r, err := feedrun.Run(ctx, st, d, cfg, listrun.Options{Trigger: o.Trigger, TempDir: o.TempDir, OnStart: o.OnStart})
	if r != nil && r.Status == activity.StatusSucceeded {
		s.d.Changed()
	}
	return r, err
}

// serialIngest lets one list run at a time write to the store.
type serialIngest struct {
	listFeedStore
	mu *sync.Mutex
}

func (s serialIngest) IngestList(ctx context.Context, run store.ListRun, e store.ListEntries) (store.ListCounts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listFeedStore.IngestList(ctx, run, e)
}
