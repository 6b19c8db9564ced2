package ui

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/feed"
	"forewarn/internal/secret"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

// feedHeader is the integration page's header.
type feedHeader struct {
	Installed  bool
	Enabled    bool
	LastRun    *activity.Run
	NextRun    *time.Time
	RunningID  int64
	Indicators int64
}

// configForm is the Configuration tab: the values as typed, and the error
// of each field.
type configForm struct {
	TokenSet     bool
	Dataset      string
	Threshold    string
	Normalize    bool
	FilterByDate bool
	Categories   string
	Context      []string
	Frequency    string
	Errors       map[string]string
}

type integrationData struct {
	Header feedHeader
	Form   configForm
	Tab    string
	Runs   []*runView
	// DryRun is the last dry run's result, shown after Run now.
	RunStarted int64
}

func (u *UI) header(r *http.Request) (feedHeader, config.Seclytics, error) {
	ctx := r.Context()
	cfg, st, err := u.Store.FeedConfig(ctx, u.Feed)
	if err != nil {
		return feedHeader{}, cfg, err
	}
	h := feedHeader{Installed: st.Installed, Enabled: st.Enabled}
	runs, err := u.Store.Runs(ctx, u.Feed, 1)
	if err != nil {
		return h, cfg, err
	}
	if len(runs) > 0 {
		h.LastRun = &runs[0]
	}
	if t, ok := u.Scheduler.NextRun(u.Feed); ok {
		h.NextRun = &t
	}
	if a, ok := u.Runner.Running(u.Feed); ok {
		h.RunningID = a.ID
	}
	// DataVersion reads a counter; Stats would read every row.
	ver, err := u.Store.DataVersion(ctx)
	if err != nil {
		return h, cfg, err
	}
	h.Indicators = ver.Count
	return h, cfg, nil
}

func formFrom(cfg config.Seclytics) configForm {
	return configForm{
		TokenSet: cfg.Token.IsSet(), Dataset: cfg.Dataset,
		Threshold: strconv.FormatFloat(cfg.Threshold, 'f', -1, 64), Normalize: cfg.Normalize, FilterByDate: cfg.FilterByDate,
		Categories: strings.Join(cfg.Categories, "\n"), Context: cfg.Context, Frequency: cfg.Frequency,
		Errors: map[string]string{},
	}
}

func (u *UI) integration(w http.ResponseWriter, r *http.Request, se *session) error {
	h, cfg, err := u.header(r)
	if err != nil {
		return err
	}
	v := view{Title: "Seclytics Predictions", Nav: "integrations", Session: se,
		Data: integrationData{Header: h, Form: formFrom(cfg), Tab: "config"}}
	switch r.URL.Query().Get("done") {
	case "saved":
		v.Notice = "Configuration saved."
	case "enabled":
		v.Notice = "The feed is enabled: it runs on its schedule."
	case "disabled":
		v.Notice = "The feed is disabled: its schedule is stopped."
	case "uninstalled":
		v.Notice = "The feed is uninstalled. The activity log stays."
	}
	return u.render(w, http.StatusOK, "integration", v)
}

// saveConfig applies the form through config.Set and the store's
// validation, as the CLI and API do. On an error it shows the form again
// as typed, with the message next to the field.
func (u *UI) saveConfig(w http.ResponseWriter, r *http.Request, se *session) error {
	h, cfg, err := u.header(r)
	if err != nil {
		return err
	}
	f := configForm{
		TokenSet: cfg.Token.IsSet(), Dataset: r.PostFormValue("dataset"), Threshold: r.PostFormValue("threshold"),
		Normalize: r.PostFormValue("normalize") == "on", FilterByDate: r.PostFormValue("filter_by_date") == "on",
		Categories: r.PostFormValue("categories"), Context: r.PostForm["context"], Frequency: r.PostFormValue("frequency"),
		Errors: map[string]string{},
	}
	next := cfg
	set := func(key, value string) {
		if _, bad := f.Errors[key]; bad {
			return
		}
		if err := next.Set(key, value); err != nil {
			f.Errors[key] = fieldMsg(err)
		}
	}
	set("dataset", f.Dataset)
	set("threshold", f.Threshold)
	set("normalize", strconv.FormatBool(f.Normalize))
	set("filter_by_date", strconv.FormatBool(f.FilterByDate))
	set("categories", f.Categories)
	set("context", strings.Join(f.Context, ","))
	set("frequency", f.Frequency)
	if tok := r.PostFormValue("token"); tok != "" {
		next.Token = secret.New(strings.TrimSpace(tok))
	} else if r.PostFormValue("clear_token") == "on" {
		next.Token = secret.String{}
	}
	if len(f.Errors) == 0 {
		// The form has no base_url today; the service's token rule
		// still holds if it gains one.
		_, err := u.Service.ConfigureFeed(r.Context(), se.actor(), u.Feed, next, r.PostFormValue("token") != "")
		var ve *service.ValidationError
		if !errors.As(err, &ve) && err != nil {
			return err
		}
		for _, fe := range fieldErrors(ve) {
			f.Errors[fe.Field] = fe.Msg
		}
	}
	if len(f.Errors) > 0 {
		return u.render(w, http.StatusUnprocessableEntity, "integration", view{Title: "Seclytics Predictions", Nav: "integrations", Session: se,
			Error: "The configuration was not saved: correct the fields marked below.",
			Data:  integrationData{Header: h, Form: f, Tab: "config"}})
	}
	http.Redirect(w, r, "/integrations/seclytics?done=saved", http.StatusSeeOther)
	return nil
}

// fieldErrors are ve's fields; none if ve is nil.
func fieldErrors(ve *service.ValidationError) []service.FieldError {
	if ve == nil {
		return nil
	}
	return ve.Fields
}

func fieldMsg(err error) string {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return fe.Msg
	}
	return err.Error()
}

func (u *UI) setEnabled(w http.ResponseWriter, r *http.Request, se *session, on bool) error {
	if err := u.Service.SetFeedEnabled(r.Context(), se.actor(), u.Feed, on); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			http.Error(w, "The feed is not installed: save its configuration first.", http.StatusConflict)
			return nil
		}
		return err
	}
	http.Redirect(w, r, "/integrations/seclytics?done="+map[bool]string{true: "enabled", false: "disabled"}[on], http.StatusSeeOther)
	return nil
}

func (u *UI) enable(w http.ResponseWriter, r *http.Request, se *session) error {
	return u.setEnabled(w, r, se, true)
}
func (u *UI) disable(w http.ResponseWriter, r *http.Request, se *session) error {
	return u.setEnabled(w, r, se, false)
}

func (u *UI) uninstall(w http.ResponseWriter, r *http.Request, se *session) error {
	if r.PostFormValue("confirm") != "on" {
		http.Error(w, "Tick the confirmation box to uninstall.", http.StatusBadRequest)
		return nil
	}
	purge := r.PostFormValue("purge") == "on"
	if _, err := u.Service.UninstallFeed(r.Context(), se.actor(), u.Feed, purge); err != nil {
		return err
	}
	http.Redirect(w, r, "/integrations/seclytics?done=uninstalled", http.StatusSeeOther)
	return nil
}

// runView is a run in the activity log, with live progress while it runs.
type runView struct {
	activity.Run
	Live *feed.Snapshot
	// Admin and CSRF draw the Cancel button.
	Admin bool
	CSRF  string
}

func (u *UI) runViews(r *http.Request, se *session) ([]*runView, error) {
	page, err := u.Store.ListRuns(r.Context(), store.RunQuery{Feed: u.Feed, Limit: 50})
	if err != nil {
		return nil, err
	}
	out := make([]*runView, 0, len(page.Runs))
	for _, run := range page.Runs {
		out = append(out, u.runView(run, se))
	}
	return out, nil
}

func (u *UI) runView(run activity.Run, se *session) *runView {
	v := &runView{Run: run, Admin: se.Admin(), CSRF: se.CSRF}
	if run.Status == activity.StatusRunning {
		if a, ok := u.Runner.Get(run.ID); ok {
			s := a.Progress.Snapshot()
			v.Live = &s
		}
	}
	return v
}

func (u *UI) activityTab(w http.ResponseWriter, r *http.Request, se *session) error {
	h, cfg, err := u.header(r)
	if err != nil {
		return err
	}
	runs, err := u.runViews(r, se)
	if err != nil {
		return err
	}
	d := integrationData{Header: h, Form: formFrom(cfg), Tab: "activity", Runs: runs}
	v := view{Title: "Seclytics Predictions — Activity Log", Nav: "integrations", Session: se, Data: d}
	if id, err := strconv.ParseInt(r.URL.Query().Get("started"), 10, 64); err == nil {
		d.RunStarted = id
		v.Data = d
		v.Notice = "Run " + strconv.FormatInt(id, 10) + " started."
	}
	return u.render(w, http.StatusOK, "integration", v)
}

// runRow is one row of the activity log, polled by htmx while it runs.
func (u *UI) runRow(w http.ResponseWriter, r *http.Request, se *session) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return nil
	}
	run, err := u.Store.Run(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return nil
	}
	if err != nil {
		return err
	}
	return u.render(w, http.StatusOK, "runrow", view{Nav: "fragment", Session: se, Data: u.runView(run, se)})
}

func (u *UI) runNow(w http.ResponseWriter, r *http.Request, se *session) error {
	req := service.RunRequest{Since: r.PostFormValue("since"), Until: r.PostFormValue("until"), DryRun: r.PostFormValue("dry_run") == "on"}
	a, err := u.Service.StartRun(r.Context(), se.actor(), u.Feed, req)
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		http.Error(w, ve.Error(), http.StatusBadRequest)
		return nil
	}
	var ip *store.InProgressError
	if errors.As(err, &ip) {
		http.Error(w, "A run of this feed is in progress: wait for it or cancel it.", http.StatusConflict)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/integrations/seclytics/activity?started="+strconv.FormatInt(a.ID, 10), http.StatusSeeOther)
	return nil
}

func (u *UI) cancelRun(w http.ResponseWriter, r *http.Request, se *session) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return nil
	}
	// A run that already ended, or runs elsewhere, shows as such in
	// the activity log the redirect leads to.
	if _, err := u.Service.CancelRun(r.Context(), se.actor(), id); err != nil &&
		!errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	http.Redirect(w, r, "/integrations/seclytics/activity", http.StatusSeeOther)
	return nil
}
