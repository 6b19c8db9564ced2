package ui

import (
	"errors"
	"fmt"
	"io"
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

// feedsData is the Integrations page: the feeds in use, the catalog of
// built-in feeds not enabled yet, and the form that adds a definition.
type feedsData struct {
	Rows    []feedRow
	Catalog []feedRow
	Add     addFeedForm
}

// addFeedForm is the "Add a feed" form as typed, with the problems the
// service found in it, each starting with its line:column.
type addFeedForm struct {
	Source   string
	Problems []string
}

// feeds is the Integrations page: every feed, enabled, its last run and
// outcome, its next run and the indicators it lists now.
func (u *UI) feeds(w http.ResponseWriter, r *http.Request, se *session) error {
	v, err := u.feedsView(r, se, addFeedForm{})
	if err != nil {
		return err
	}
	if r.URL.Query().Get("done") == "removed" {
		v.Notice = "The feed was removed: it no longer runs. Its indicators and activity log stay."
	}
	return u.render(w, http.StatusOK, "feeds", v)
}

func (u *UI) feedsView(r *http.Request, se *session, add addFeedForm) (view, error) {
	feeds, err := u.Service.ListFeeds(r.Context())
	if err != nil {
		return view{}, err
	}
	data := feedsData{Add: add}
	for _, f := range feeds {
		row := feedRow{Feed: f, Link: "/integrations/feeds/" + f.Definition.ID}
		if !service.IsListFeed(f.Definition.ID) {
			row.Link = "/integrations/" + f.Definition.ID
		}
		if t, ok := u.Scheduler.NextRun(f.Definition.ID); ok {
			row.NextRun = &t
		}
		// A built-in feed never enabled nor run is in the catalog: one to
		// enable, not one in use.
		if f.Builtin && !f.Enabled && f.LastRun == nil && f.Indicators == 0 {
			data.Catalog = append(data.Catalog, row)
			continue
		}
		data.Rows = append(data.Rows, row)
	}
	return view{Title: "Integrations", Nav: "integrations", Session: se, Data: data}, nil
}

// addFeed stores an uploaded or pasted definition through the same use
// case as POST /api/v1/feeds and forewarn feed add; its problems show on
// the Integrations page with the definition kept as typed.
func (u *UI) addFeed(w http.ResponseWriter, r *http.Request, se *session) error {
	src, err := definitionSource(r)
	if err == nil {
		var d *feeddef.Definition
		if d, err = u.Service.AddDefinition(r.Context(), se.actor(), src); err == nil {
			http.Redirect(w, r, "/integrations/feeds/"+d.ID+"?done=added", http.StatusSeeOther)
			return nil
		}
	}
	form := addFeedForm{Source: string(src)}
	var ve *service.ValidationError
	status := http.StatusUnprocessableEntity
	switch {
	case errors.As(err, &ve):
		for _, f := range ve.Fields {
			form.Problems = append(form.Problems, f.Msg)
		}
	case errors.Is(err, store.ErrConflict):
		status = http.StatusConflict
		form.Problems = []string{err.Error()}
	default:
		return err
	}
	v, verr := u.feedsView(r, se, form)
	if verr != nil {
		return verr
	}
	v.Error = "The feed was not added: fix the definition below and add it again."
	return u.render(w, status, "feeds", v)
}

// definitionSource is the form's definition: the chosen file if one was
// chosen, else the text pasted. Either is capped at the size the store
// keeps; a form with neither is a validation error.
func definitionSource(r *http.Request) ([]byte, error) {
	pasted := r.PostFormValue("definition")
	f, _, err := r.FormFile("file")
	switch {
	case err == nil:
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, store.MaxFeedDefinition+1))
		if err != nil {
			return nil, fmt.Errorf("read the uploaded definition: %w", err)
		}
		if len(b) > 0 {
			return b, nil
		}
	case !errors.Is(err, http.ErrMissingFile) && !errors.Is(err, http.ErrNotMultipart):
		return nil, fmt.Errorf("read the uploaded definition: %w", err)
	}
	// Browsers send a textarea's line breaks as CRLF.
	src := []byte(strings.ReplaceAll(pasted, "\r\n", "\n"))
	if strings.TrimSpace(pasted) == "" {
		return src, &service.ValidationError{Fields: []service.FieldError{{Field: "definition",
			Msg: "no definition given: choose a YAML file or paste one (docs/feeds.md shows a complete example)"}}}
	}
	return src, nil
}

// removeFeed removes a custom definition once the box is ticked: the feed
// stops running; its indicators and activity log stay.
func (u *UI) removeFeed(w http.ResponseWriter, r *http.Request, se *session) error {
	id := r.PathValue("id")
	if r.PostFormValue("confirm") != "on" {
		u.fail(w, r, se, http.StatusBadRequest, "Nothing was removed: tick the confirmation box to remove the feed.")
		return nil
	}
	err := u.Service.RemoveDefinition(r.Context(), se.actor(), id)
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		u.fail(w, r, se, http.StatusConflict, "The feed was not removed: "+err.Error()+".")
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/integrations?done=removed", http.StatusSeeOther)
	return nil
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
	case "added":
		v.Notice = "The feed was added: set its parameters, then enable it or run it now."
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
