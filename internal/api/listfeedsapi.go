package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"forewarn/internal/feeddef"
	"forewarn/internal/secret"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

// ListFeedConfig is a list feed's configuration as the API shows it: the
// secret only as {"configured": bool}.
type ListFeedConfig struct {
	Settings map[string]string `json:"settings"`
	BaseURL  string            `json:"base_url"`
	Schedule string            `json:"schedule"`
	Token    TokenState        `json:"token"`
}

// ListFeed is GET /feeds/{feed} of a list feed: its state, configuration
// and the parameters its definition declares.
type ListFeed struct {
	FeedState
	Config     ListFeedConfig `json:"config"`
	Parameters []Parameter    `json:"parameters"`
}

// Parameter is a parameter a list feed's definition declares: what a
// settings form shows.
type Parameter struct {
	Name    string   `json:"name"`
	Label   string   `json:"label"`
	Type    string   `json:"type"`
	Default any      `json:"default"`
	Help    string   `json:"help"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	Choices []string `json:"choices,omitempty"`
}

func parameters(ps []feeddef.Parameter) []Parameter {
	out := make([]Parameter, len(ps))
	for i, p := range ps {
		out[i] = Parameter{Name: p.Name, Label: p.Label, Type: p.Type, Default: p.Default, Help: p.Help, Min: p.Min, Max: p.Max, Choices: p.Choices}
	}
	return out
}

// listFeedState is a list feed in GET /feeds.
func (s *Server) listFeedState(f service.Feed) FeedState {
	fs := FeedState{Name: f.Definition.ID, Kind: "list", Title: f.Definition.Title, Builtin: f.Builtin,
		Installed: f.Configured, Enabled: f.Enabled, Frequency: f.Schedule, LastRun: f.LastRun, Indicators: f.Indicators}
	if s.Scheduler != nil {
		if t, ok := s.Scheduler.NextRun(fs.Name); ok {
			t = t.UTC()
			fs.NextRun = &t
		}
	}
	if s.Runner != nil {
		if a, ok := s.Runner.Running(fs.Name); ok {
			fs.RunningRun = &a.ID
		}
	}
	return fs
}

func (s *Server) getListFeed(w http.ResponseWriter, r *http.Request, id string) error {
	out, err := s.listFeed(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listFeed(ctx context.Context, id string) (ListFeed, error) {
	d, builtin, err := s.Service.Definition(ctx, id)
	if err != nil {
		return ListFeed{}, err
	}
	sum, err := s.Store.FeedSummary(ctx, id)
	if err != nil {
		return ListFeed{}, err
	}
	cfg, _, err := s.Store.ListFeedConfig(ctx, id)
	if err != nil {
		return ListFeed{}, err
	}
	sched := cfg.Schedule
	if sched == "" {
		sched = d.Schedule
	}
	out := ListFeed{
		FeedState: s.listFeedState(service.Feed{Definition: d, Builtin: builtin, Schedule: sched, FeedSummary: sum}),
		Config: ListFeedConfig{Settings: cfg.Settings, BaseURL: cfg.BaseURL, Schedule: cfg.Schedule,
			Token: TokenState{Configured: cfg.Token.IsSet()}},
		Parameters: parameters(d.Parameters),
	}
	if out.Config.Settings == nil {
		out.Config.Settings = map[string]string{}
	}
	return out, nil
}

// ListFeedPatch is the body of PUT /feeds/{feed} for a list feed: the
// fields sent change. A setting set to null or "" goes back to its
// default; token is write-only (null or "" clears it).
type ListFeedPatch struct {
	Settings map[string]any   `json:"settings"`
	BaseURL  *string          `json:"base_url"`
	Schedule *string          `json:"schedule"`
	Token    *json.RawMessage `json:"token"`
}

func (s *Server) putListFeed(w http.ResponseWriter, r *http.Request, id string) error {
	var p ListFeedPatch
	if err := decodeBody(w, r, &p); err != nil {
		return err
	}
	ch := service.ListFeedChange{Set: map[string]string{}, BaseURL: p.BaseURL, Schedule: p.Schedule}
	for k, v := range p.Settings {
		switch v := v.(type) {
		case nil:
			ch.Set[k] = ""
		case string:
			ch.Set[k] = v
		case float64:
			ch.Set[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			ch.Set[k] = strconv.FormatBool(v)
		default:
			return badRequest(k, "settings.%s must be a string, number, boolean or null", k)
		}
	}
	if p.Token != nil {
		var t *string
		if err := json.Unmarshal(*p.Token, &t); err != nil {
			return badRequest("token", "token must be a string or null")
		}
		if t == nil || *t == "" {
			ch.ClearToken = true
		} else {
			ch.Token, ch.TokenGiven = secret.New(*t), true
		}
	}
	if _, err := s.Service.ConfigureListFeed(r.Context(), actor(r), id, ch); err != nil {
		return err
	}
	return s.getListFeed(w, r, id)
}

// addFeed is POST /feeds: the body is a feed definition (YAML, or JSON,
// which YAML reads too), at most store.MaxFeedDefinition bytes. Its
// problems come back as one 400 naming field "definition", each with its
// line:column.
func (s *Server) addFeed(w http.ResponseWriter, r *http.Request) error {
	src, err := io.ReadAll(http.MaxBytesReader(w, r.Body, store.MaxFeedDefinition))
	if err != nil {
		return err
	}
	if len(src) == 0 {
		return badRequest("definition", "the body is empty: send a feed definition (see docs/feeds.md)")
	}
	d, err := s.Service.AddDefinition(r.Context(), actor(r), src)
	if err != nil {
		return err
	}
	out, err := s.listFeed(r.Context(), d.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("%s/feeds/%s", Prefix, d.ID))
	writeJSON(w, http.StatusCreated, out)
	return nil
}
