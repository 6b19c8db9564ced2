package ui

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"forewarn/internal/feeddef"
	"forewarn/internal/secret"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

// feedRow is one feed on the Integrations list.
type feedRow struct {
	service.Feed
	Link    string
	NextRun *time.Time
}

// feeds is the Integrations page: every feed, enabled, its last run and
// outcome, its next run and the indicators it lists now.
func (u *UI) feeds(w http.ResponseWriter, r *http.Request, se *session) error {
	feeds, err := u.Service.ListFeeds(r.Context())
	if err != nil {
		return err
	}
	rows := make([]feedRow, 0, len(feeds))
	for _, f := range feeds {
		row := feedRow{Feed: f, Link: "/integrations/feeds/" + f.Definition.ID}
		if !service.IsListFeed(f.Definition.ID) {
			row.Link = "/integrations/" + f.Definition.ID
		}
		if t, ok := u.Scheduler.NextRun(f.Definition.ID); ok {
			row.NextRun = &t
		}
		rows = append(rows, row)
	}
	return u.render(w, http.StatusOK, "feeds", view{Title: "Integrations", Nav: "integrations", Session: se, Data: rows})
}

// paramField is a parameter's form field: its declaration, the value as
// stored or typed, and its error.
type paramField struct {
	feeddef.Parameter
	Value   string
	Default string
	Error   string
}

type listFeedData struct {
	Feed     feedRow
	Def      *feeddef.Definition
	Fields   []paramField
	TokenSet bool
	NeedsKey bool
	Schedule string
	Errors   map[string]string
}

func (u *UI) listFeedData(r *http.Request, id string, typed map[string]string) (listFeedData, error) {
	ctx := r.Context()
	d, _, err := u.Service.Definition(ctx, id)
	if err != nil {
		return listFeedData{}, err
	}
	var row feedRow
	feeds, err := u.Service.ListFeeds(ctx)
	if err != nil {
		return listFeedData{}, err
	}
	for _, f := range feeds {
		if f.Definition.ID == id {
			row = feedRow{Feed: f}
		}
	}
	if t, ok := u.Scheduler.NextRun(id); ok {
		row.NextRun = &t
	}
	cfg, err := u.Service.ListFeedConfig(ctx, id)
	if err != nil {
		return listFeedData{}, err
	}
	data := listFeedData{Feed: row, Def: d, TokenSet: cfg.Token.IsSet(), Schedule: cfg.Schedule, Errors: map[string]string{},
		NeedsKey: d.Fetch.Auth.Kind != "" && d.Fetch.Auth.Kind != feeddef.AuthNone}
	for _, p := range d.Parameters {
		v, ok := typed[p.Name]
		if !ok {
			v = cfg.Settings[p.Name]
		}
		data.Fields = append(data.Fields, paramField{Parameter: p, Value: v, Default: fmt.Sprint(p.Default)})
	}
	return data, nil
}

// listFeed is a list feed's page: its state and its settings form,
// generated from its definition's parameters.
func (u *UI) listFeed(w http.ResponseWriter, r *http.Request, se *session) error {
	data, err := u.listFeedData(r, r.PathValue("id"), nil)
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return nil
	}
	if err != nil {
		return err
	}
	v := view{Title: data.Def.Title, Nav: "integrations", Session: se, Data: data}
	switch r.URL.Query().Get("done") {
	case "saved":
		v.Notice = "Settings saved."
	case "enabled":
		v.Notice = "The feed is enabled: it runs on its schedule."
	case "disabled":
		v.Notice = "The feed is disabled: its schedule is stopped."
	case "started":
		v.Notice = "The run started: see its outcome below once it ends."
	}
	return u.render(w, http.StatusOK, "listfeed", v)
}

// saveListFeed stores the form through the service; refusals show the
// form again as typed, each message next to its field.
func (u *UI) saveListFeed(w http.ResponseWriter, r *http.Request, se *session) error {
	id := r.PathValue("id")
	d, _, err := u.Service.Definition(r.Context(), id)
	if err != nil {
		return err
	}
	typed := map[string]string{}
	for _, p := range d.Parameters {
		typed[p.Name] = strings.TrimSpace(r.PostFormValue("p." + p.Name))
	}
	sched := strings.TrimSpace(r.PostFormValue("schedule"))
	ch := service.ListFeedChange{Set: typed, Schedule: &sched}
	if tok := r.PostFormValue("token"); tok != "" {
		ch.Token, ch.TokenGiven = secret.New(tok), true
	}
	_, err = u.Service.ConfigureListFeed(r.Context(), se.actor(), id, ch)
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		data, derr := u.listFeedData(r, id, typed)
		if derr != nil {
			return derr
		}
		data.Schedule = sched
		for _, f := range ve.Fields {
			data.Errors[f.Field] = f.Msg
		}
		for i := range data.Fields {
			data.Fields[i].Error = data.Errors[data.Fields[i].Name]
		}
		return u.render(w, http.StatusUnprocessableEntity, "listfeed", view{Title: d.Title, Nav: "integrations", Session: se,
			Data: data, Error: "The settings were not saved: " + ve.Error()})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/integrations/feeds/"+id+"?done=saved", http.StatusSeeOther)
	return nil
}

func (u *UI) toggleListFeed(w http.ResponseWriter, r *http.Request, se *session, on bool) error {
	id := r.PathValue("id")
	if err := u.Service.SetFeedEnabled(r.Context(), se.actor(), id, on); err != nil {
		return err
	}
	http.Redirect(w, r, "/integrations/feeds/"+id+"?done="+map[bool]string{true: "enabled", false: "disabled"}[on], http.StatusSeeOther)
	return nil
}

func (u *UI) enableListFeed(w http.ResponseWriter, r *http.Request, se *session) error {
	return u.toggleListFeed(w, r, se, true)
}

func (u *UI) disableListFeed(w http.ResponseWriter, r *http.Request, se *session) error {
	return u.toggleListFeed(w, r, se, false)
}

func (u *UI) runListFeed(w http.ResponseWriter, r *http.Request, se *session) error {
	id := r.PathValue("id")
	_, err := u.Service.StartRun(r.Context(), se.actor(), id, service.RunRequest{})
	var ip *store.InProgressError
	if errors.As(err, &ip) {
		http.Error(w, "A run of this feed is in progress: wait for it.", http.StatusConflict)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/integrations/feeds/"+id+"?done=started", http.StatusSeeOther)
	return nil
}
