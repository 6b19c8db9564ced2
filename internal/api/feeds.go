package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/secret"
	"forewarn/internal/service"
)

// FeedState is a feed in GET /feeds.
type FeedState struct {
	Name string `json:"name"`
	// Kind is "seclytics" or "list"; Title and Builtin describe a list
	// feed's definition.
	Kind       string        `json:"kind"`
	Title      string        `json:"title,omitempty"`
	Builtin    bool          `json:"builtin"`
	Installed  bool          `json:"installed"`
	Enabled    bool          `json:"enabled"`
	Frequency  string        `json:"frequency"`
	LastRun    *activity.Run `json:"last_run"`
	NextRun    *time.Time    `json:"next_run"`
	RunningRun *int64        `json:"running_run_id"`
	Indicators int64         `json:"indicators"`
}

// TokenState is how the API shows an access token: never its value.
type TokenState struct {
	Configured bool `json:"configured"`
}

// FeedConfig is GET /feeds/{feed}.
type FeedConfig struct {
	FeedState
	Config json.RawMessage `json:"config"`
}

func (s *Server) feedName(r *http.Request) (string, error) {
	name := r.PathValue("feed")
	return name, s.Service.KnownFeed(r.Context(), name)
}

func (s *Server) feedState(r *http.Request, name string) (FeedState, config.Seclytics, error) {
	ctx := r.Context()
	cfg, st, err := s.Store.FeedConfig(ctx, name)
	if err != nil {
		return FeedState{}, cfg, err
	}
	fs := FeedState{Name: name, Kind: "seclytics", Title: "Seclytics Predictions", Builtin: true,
		Installed: st.Installed, Enabled: st.Enabled, Frequency: cfg.Frequency}
	runs, err := s.Store.Runs(ctx, name, 1)
	if err != nil {
		return fs, cfg, err
	}
	if len(runs) > 0 {
		fs.LastRun = &runs[0]
	}
	if t, ok := s.Scheduler.NextRun(name); ok {
		t = t.UTC()
		fs.NextRun = &t
	}
	if a, ok := s.Runner.Running(name); ok {
		fs.RunningRun = &a.ID
	}
	stats, err := s.Store.Stats(ctx)
	if err != nil {
		return fs, cfg, err
	}
	fs.Indicators = stats.Indicators
	return fs, cfg, nil
}

func (s *Server) listFeeds(w http.ResponseWriter, r *http.Request) error {
	out := []FeedState{}
	for _, name := range s.Service.Feeds() {
		fs, _, err := s.feedState(r, name)
		if err != nil {
			return err
		}
		out = append(out, fs)
	}
	lists, err := s.Service.ListFeeds(r.Context())
	if err != nil {
		return err
	}
	for _, f := range lists {
		if service.IsListFeed(f.Definition.ID) {
			out = append(out, s.listFeedState(f))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"feeds": out})
	return nil
}

// configJSON encodes a configuration with the token shown only as
// {"configured": bool}.
func configJSON(cfg config.Seclytics) json.RawMessage {
	var m map[string]any
	_ = json.Unmarshal(cfg.Encode(), &m)
	m["token"] = TokenState{Configured: cfg.Token.IsSet()}
	b, _ := json.Marshal(m)
	return b
}

func (s *Server) getFeed(w http.ResponseWriter, r *http.Request) error {
	name, err := s.feedName(r)
	if err != nil {
		return err
	}
	if service.IsListFeed(name) {
		return s.getListFeed(w, r, name)
	}
	fs, cfg, err := s.feedState(r, name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, FeedConfig{FeedState: fs, Config: configJSON(cfg)})
	return nil
}

// putFeed changes the configuration. The body holds the fields to change
// (the names GET shows); fields left out keep their values. "token" is
// write-only: a string sets it, null or "" clears it. A base_url with
// another origin clears the stored token unless the body sets one.
func (s *Server) putFeed(w http.ResponseWriter, r *http.Request) error {
	name, err := s.feedName(r)
	if err != nil {
		return err
	}
	if service.IsListFeed(name) {
		return s.putListFeed(w, r, name)
	}
	var patch map[string]json.RawMessage
	if err := decodeBody(w, r, &patch); err != nil {
		return err
	}
	if patch == nil {
		return badRequest("", "the body must be a JSON object of configuration fields")
	}
	cfg, _, err := s.Store.FeedConfig(r.Context(), name)
	if err != nil {
		return err
	}
	token := cfg.Token
	raw, tokenSet := patch["token"]
	if tokenSet {
		var t *string
		if err := json.Unmarshal(raw, &t); err != nil {
			return badRequest("token", "token must be a string")
		}
		token = secret.String{}
		if t != nil {
			token = secret.New(*t)
		}
		delete(patch, "token")
	}
	var merged map[string]json.RawMessage
	_ = json.Unmarshal(cfg.Encode(), &merged)
	for k, v := range patch {
		if _, ok := merged[k]; !ok {
			return badRequest(k, "unknown field %q: the fields are those GET %s/feeds/%s shows under config", k, Prefix, name)
		}
		merged[k] = v
	}
	body, _ := json.Marshal(merged)
	next, err := config.Decode(body)
	if err != nil {
		return jsonError(err)
	}
	next.Token = token
	if _, err := s.Service.ConfigureFeed(r.Context(), actor(r), name, next, tokenSet); err != nil {
		return err
	}
	return s.getFeed(w, r)
}

// actor is who a request acts for: its API key.
func actor(r *http.Request) service.Actor {
	k, _ := Caller(r.Context())
	return service.Key(k, "api")
}

func (s *Server) setEnabled(w http.ResponseWriter, r *http.Request, enabled bool) error {
	name, err := s.feedName(r)
	if err != nil {
		return err
	}
	if err := s.Service.SetFeedEnabled(r.Context(), actor(r), name, enabled); err != nil {
		return err
	}
	return s.getFeed(w, r)
}

func (s *Server) enableFeed(w http.ResponseWriter, r *http.Request) error {
	return s.setEnabled(w, r, true)
}
func (s *Server) disableFeed(w http.ResponseWriter, r *http.Request) error {
	return s.setEnabled(w, r, false)
}

// deleteFeed is the guide's Uninstall.
func (s *Server) deleteFeed(w http.ResponseWriter, r *http.Request) error {
	name, err := s.feedName(r)
	if err != nil {
		return err
	}
	if service.IsListFeed(name) {
		if err := s.Service.RemoveDefinition(r.Context(), actor(r), name); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"feed": name, "removed": true})
		return nil
	}
	purge := false
	if v := r.URL.Query().Get("purge"); v != "" {
		if purge, err = strconv.ParseBool(v); err != nil {
			return badRequest("purge", "purge must be true or false, not %q", v)
		}
	}
	n, err := s.Service.UninstallFeed(r.Context(), actor(r), name, purge)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"feed": name, "uninstalled": true, "indicators_deleted": n})
	return nil
}

// RunRequest is the body of POST /feeds/{feed}/runs.
type RunRequest struct {
	Since  *string `json:"since"`
	Until  *string `json:"until"`
	DryRun bool    `json:"dry_run"`
}

func (s *Server) startRun(w http.ResponseWriter, r *http.Request) error {
	name, err := s.feedName(r)
	if err != nil {
		return err
	}
	var req RunRequest
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &req); err != nil {
			return err
		}
	}
	a, err := s.Service.StartRun(r.Context(), actor(r), name, service.RunRequest{Since: deref(req.Since), Until: deref(req.Until), DryRun: req.DryRun})
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/runs/"+strconv.FormatInt(a.ID, 10))
	writeJSON(w, http.StatusAccepted, map[string]any{"run_id": a.ID, "status": activity.StatusRunning})
	return nil
}

func deref(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}
