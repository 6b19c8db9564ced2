package service

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"forewarn/internal/config"
)

// ConfigureFeed validates cfg and stores it as the feed's configuration,
// and returns it as stored. The edges build cfg from what a person typed
// (config.Set, config.Decode); the whole is validated here, once, so every
// edge refuses the same configurations with the same *ValidationError.
// tokenGiven says the person gave the token with this change: without it,
// a base URL moved to another origin drops the stored token
// (config.KeepTokenFor).
func (s *Service) ConfigureFeed(ctx context.Context, a Actor, name string, cfg config.Seclytics, tokenGiven bool) (config.Seclytics, error) {
	if err := s.CheckFeed(name); err != nil {
		return cfg, err
	}
	prev, _, err := s.d.Store.FeedConfig(ctx, name)
	var fe *config.FieldError
	if err != nil && !errors.As(err, &fe) {
		return cfg, err
	}
	// A stored configuration this version refuses is being repaired: the
	// new one replaces it whole.
	cfg.KeepTokenFor(prev, tokenGiven)
	if err := cfg.Validate(); err != nil {
		return cfg, fromConfig(err)
	}
	if err := s.d.Store.SaveFeedConfig(ctx, name, cfg); err != nil {
		return cfg, err
	}
	if err := s.reschedule(ctx, name); err != nil {
		return cfg, err
	}
	s.record(ctx, a, "feed.configure", name, "changed: "+strings.Join(changedKeys(prev, cfg), ", "))
	return cfg, nil
}

// changedKeys names the parameters that differ, the token only as whether
// one is set: the audit log never holds a value that could be a secret.
func changedKeys(prev, next config.Seclytics) []string {
	var a, b map[string]json.RawMessage
	_ = json.Unmarshal(prev.Encode(), &a)
	_ = json.Unmarshal(next.Encode(), &b)
	var out []string
	for k, v := range b {
		if string(a[k]) != string(v) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	if prev.Token.IsSet() != next.Token.IsSet() {
		out = append(out, "token")
	}
	return out
}

// SetFeedEnabled enables or disables the feed's schedule. Seclytics never
// configured is an error wrapping store.ErrNotFound.
// A list feed needs no configuration: enabling one never configured
// stores its defaults.
func (s *Service) SetFeedEnabled(ctx context.Context, a Actor, name string, enabled bool) error {
	if err := s.checkAnyFeed(ctx, name); err != nil {
		return err
	}
	if IsListFeed(name) {
		cfg, _, err := s.d.Store.ListFeedConfig(ctx, name)
		if err != nil {
			return err
		}
		if err := s.d.Store.SaveListFeedConfig(ctx, name, cfg); err != nil {
			return err
		}
	}
	if err := s.d.Store.SetFeedEnabled(ctx, name, enabled); err != nil {
		return err
	}
	if err := s.reschedule(ctx, name); err != nil {
		return err
	}
	action := "feed.disable"
	if enabled {
		action = "feed.enable"
	}
	s.record(ctx, a, action, name, "")
	return nil
}

// UninstallFeed is the guide's Uninstall: the feed's configuration and
// schedule go, its activity log stays; with purge its indicators go too.
// It returns how many indicators were deleted.
func (s *Service) UninstallFeed(ctx context.Context, a Actor, name string, purge bool) (int64, error) {
	if err := s.CheckFeed(name); err != nil {
		return 0, err
	}
	n, err := s.d.Store.DeleteFeed(ctx, name, purge)
	if err != nil {
		return 0, err
	}
	if err := s.reschedule(ctx, name); err != nil {
		return n, err
	}
	detail := "kept indicators"
	if purge {
		s.d.Changed()
		detail = "purged " + itoa(n) + " indicators"
	}
	s.record(ctx, a, "feed.uninstall", name, detail)
	return n, nil
}
