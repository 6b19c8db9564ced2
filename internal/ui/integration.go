package ui

import (
	"errors"
	"net/http"
	"slices"
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
	Installed bool
	Enabled   bool
	// FilterByDate is the configuration's: without it, a window filters
	// nothing.
	FilterByDate bool
	// LastRun is the last real run; a dry run writes nothing, so it is not
	// the feed's last run.
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
	AgeOut       string
	// SpecialRanges is "on" or "off" (a select: a form without it keeps
	// the stored value).
	SpecialRanges  string
	Tries          string
	ConnectTimeout string
	IdleTimeout    string
	// NewCategories accepts categories Seclytics has not sent yet.
	NewCategories bool
	Errors        map[string]string
	// Known are the categories known so far, for the categories' error.
	Known []string
}

// formKeys are the configuration keys the form has, in its order: what a
// person can set without the command line.
var formKeys = []string{"dataset", "threshold", "normalize", "filter_by_date", "categories", "context", "frequency",
	"age_out", "allowlist_special_ranges", "tries", "connect_timeout", "idle_timeout"}

func (f configForm) value(key string) string {
	return map[string]string{"dataset": f.Dataset, "threshold": f.Threshold, "normalize": strconv.FormatBool(f.Normalize),
		"filter_by_date": strconv.FormatBool(f.FilterByDate), "categories": f.Categories, "context": strings.Join(f.Context, ","),
		"frequency": f.Frequency, "age_out": f.AgeOut, "allowlist_special_ranges": strconv.FormatBool(f.SpecialRanges == "on"),
		"tries": f.Tries, "connect_timeout": f.ConnectTimeout, "idle_timeout": f.IdleTimeout}[key]
}

type integrationData struct {
	Header feedHeader
	Form   configForm
	Tab    string
	Runs   []*runView
	// RunStarted is the run Run now just started.
	RunStarted int64
	// Run is the Run now form as typed, with its errors.
	Run runForm
}

// runForm is the Run now form: what was typed, and what was refused.
type runForm struct {
	Since, Until string
	DryRun       bool
	Errors       map[string]string
}

func (u *UI) header(r *http.Request) (feedHeader, config.Seclytics, error) {
	ctx := r.Context()
	cfg, st, err := u.Store.FeedConfig(ctx, u.Feed)
	if err != nil {
		return feedHeader{}, cfg, err
	}
	h := feedHeader{Installed: st.Installed, Enabled: st.Enabled, FilterByDate: cfg.FilterByDate}
	runs, err := u.Store.Runs(ctx, u.Feed, alertRuns)
	if err != nil {
		return h, cfg, err
	}
	for i := range runs {
		if !runs[i].DryRun {
			h.LastRun = &runs[i]
			break
		}
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
	special := "off"
	if cfg.AllowlistSpecialRanges {
		special = "on"
	}
	return configForm{
		TokenSet: cfg.Token.IsSet(), Dataset: cfg.Dataset,
		Threshold: strconv.FormatFloat(cfg.Threshold, 'f', -1, 64), Normalize: cfg.Normalize, FilterByDate: cfg.FilterByDate,
		Categories: strings.Join(cfg.Categories, "\n"), Context: cfg.Context, Frequency: cfg.Frequency,
		AgeOut: cfg.AgeOut.String(), SpecialRanges: special, Tries: strconv.Itoa(cfg.Tries),
		ConnectTimeout: cfg.ConnectTimeout.String(), IdleTimeout: cfg.IdleTimeout.String(),
		Errors: map[string]string{},
	}
}

// formFromPost is the form as posted; a text field or select the post
// lacks keeps cur's value (checkboxes cannot tell absent from off).
func formFromPost(r *http.Request, cur configForm) configForm {
	f := cur
	f.Errors = map[string]string{}
	text := func(key string, dst *string) {
		if _, ok := r.PostForm[key]; ok {
			*dst = r.PostFormValue(key)
		}
	}
	text("dataset", &f.Dataset)
	text("threshold", &f.Threshold)
	text("categories", &f.Categories)
	text("frequency", &f.Frequency)
	text("age_out", &f.AgeOut)
	text("allowlist_special_ranges", &f.SpecialRanges)
	text("tries", &f.Tries)
	text("connect_timeout", &f.ConnectTimeout)
	text("idle_timeout", &f.IdleTimeout)
	f.Normalize, f.FilterByDate = r.PostFormValue("normalize") == "on", r.PostFormValue("filter_by_date") == "on"
	f.Context = r.PostForm["context"]
	f.NewCategories = r.PostFormValue("new_categories") == "on"
	return f
}

// check applies the form to cfg and names every bad field at once: each
// value is parsed, then validated alone (on the defaults, so that one bad
// field does not hide another).
func (f *configForm) check(cfg *config.Seclytics) {
	for _, key := range formKeys {
		v := f.value(key)
		if err := cfg.Set(key, v); err != nil {
			f.Errors[key] = fieldMsg(err)
			continue
		}
		alone := config.Default()
		if err := alone.Set(key, v); err == nil {
			if err := alone.Validate(); err != nil {
				var fe *config.FieldError
				if errors.As(err, &fe) && fe.Field == key {
					f.Errors[key] = fe.Msg
				}
			}
		}
	}
}

// checkCategories refuses a category Seclytics has not sent (a typo such
// as "botnets" keeps nothing, silently), unless the person says it is new.
func (f *configForm) checkCategories(cfg config.Seclytics, known []string) {
	if f.NewCategories || f.Errors["categories"] != "" {
		return
	}
	var unknown []string
	for _, c := range cfg.Categories {
		if !slices.Contains(known, c) {
			unknown = append(unknown, c)
		}
	}
	if len(unknown) > 0 {
		f.Known = known
		f.Errors["categories"] = "Seclytics has not sent " + strings.Join(unknown, ", ") + " so far: check the spelling, or tick “these are new categories” to save anyway. Known: " + strings.Join(known, ", ") + "."
	}
}

// knownCategories are the default categories and every detected category
// in the store (from the dashboard's aggregates).
func (u *UI) knownCategories() []string {
	known := slices.Clone(config.Default().Categories)
	u.dashMu.Lock()
	if d := u.dash[allRange].d; d != nil {
		for c := range d.Categories {
			if c != "(none)" && !slices.Contains(known, c) {
				known = append(known, c)
			}
		}
	}
	u.dashMu.Unlock()
	slices.Sort(known)
	return known
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
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, se, http.StatusBadRequest, "The form could not be read: reload the page and try again.")
		return nil
	}
	f := formFromPost(r, formFrom(cfg))
	next := cfg
	f.check(&next)
	f.checkCategories(next, u.knownCategories())
	tok := strings.TrimSpace(r.PostFormValue("token"))
	switch {
	case tok != "":
		next.Token = secret.New(tok)
	case r.PostFormValue("clear_token") == "on":
		next.Token = secret.String{}
	}
	if !next.Token.IsSet() {
		f.Errors["token"] = "Paste your Seclytics access token: without it every run fails."
	}
	if len(f.Errors) == 0 {
		_, err := u.Service.ConfigureFeed(r.Context(), se.actor(), u.Feed, next, tok != "")
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
			Error: "The configuration was not saved: correct the " + plural(int64(len(f.Errors)), "field", "fields") + " marked below.",
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
			u.fail(w, r, se, http.StatusConflict, "The feed is not installed: save its configuration first, on the Configuration tab.")
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
		u.fail(w, r, se, http.StatusBadRequest, "Nothing was uninstalled: tick the confirmation box to uninstall.")
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
	// CanceledBy is who canceled the run, from the audit log.
	CanceledBy string
	// Msg is the run's error in words for a web user.
	Msg  string
	Live *feed.Snapshot
	// Retry is, while the download is retrying, its last failure in words.
	Retry string
	// Admin and CSRF draw the Cancel button.
	Admin bool
	CSRF  string
}

func (u *UI) runViews(r *http.Request, se *session) ([]*runView, error) {
	page, err := u.Store.ListRuns(r.Context(), store.RunQuery{Feed: u.Feed, Limit: 50})
	if err != nil {
		return nil, err
	}
	cancels, err := u.cancelers(r, "")
	if err != nil {
		return nil, err
	}
	out := make([]*runView, 0, len(page.Runs))
	for _, run := range page.Runs {
		v := u.runView(run, se)
		v.CanceledBy = cancels[runTarget(run)]
		out = append(out, v)
	}
	return out, nil
}

// runTarget is how the audit log names a run.
func runTarget(run activity.Run) string { return run.Feed + " run " + itoa(run.ID) }

// cancelers maps runs (by audit target) to who canceled them: the audit
// log records every cancel with its actor. target narrows it to one run.
func (u *UI) cancelers(r *http.Request, target string) (map[string]string, error) {
	es, err := u.Store.SearchAudit(r.Context(), store.AuditQuery{Action: "run.cancel", Target: target, Limit: 100})
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(es))
	for _, e := range es {
		if _, seen := m[e.Target]; !seen {
			m[e.Target] = e.Actor + " (" + e.Via + ")"
		}
	}
	return m, nil
}

func (u *UI) runView(run activity.Run, se *session) *runView {
	v := &runView{Run: run, Admin: se.Admin(), CSRF: se.CSRF, Msg: plainError(run.Error)}
	if run.Status == activity.StatusRunning {
		if a, ok := u.Runner.Get(run.ID); ok {
			s := a.Progress.Snapshot()
			v.Live = &s
			if s.FailedTries > 0 && s.Phase == feed.PhaseDownload && s.Bytes == 0 {
				v.Retry = strings.TrimRight(plainError(s.LastError), ".") + "."
			}
		}
	}
	return v
}

func (u *UI) activityTab(w http.ResponseWriter, r *http.Request, se *session) error {
	v := view{}
	d := integrationData{}
	if id, err := strconv.ParseInt(r.URL.Query().Get("started"), 10, 64); err == nil {
		d.RunStarted = id
		v.Notice = "Run " + strconv.FormatInt(id, 10) + " started."
	}
	return u.renderActivity(w, r, se, http.StatusOK, v, d)
}

// renderActivity renders the Activity Log tab with d's Run now form and
// notice.
func (u *UI) renderActivity(w http.ResponseWriter, r *http.Request, se *session, status int, v view, d integrationData) error {
	h, cfg, err := u.header(r)
	if err != nil {
		return err
	}
	runs, err := u.runViews(r, se)
	if err != nil {
		return err
	}
	d.Header, d.Form, d.Tab, d.Runs = h, formFrom(cfg), "activity", runs
	v.Title, v.Nav, v.Session, v.Data = "Seclytics Predictions — Activity Log", "integrations", se, d
	return u.render(w, status, "integration", v)
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
	v := u.runView(run, se)
	if run.Status == activity.StatusCanceled {
		m, err := u.cancelers(r, runTarget(run))
		if err != nil {
			return err
		}
		v.CanceledBy = m[runTarget(run)]
	}
	return u.render(w, http.StatusOK, "runrow", view{Nav: "fragment", Session: se, Data: v})
}

func (u *UI) runNow(w http.ResponseWriter, r *http.Request, se *session) error {
	f := runForm{Since: r.PostFormValue("since"), Until: r.PostFormValue("until"), DryRun: r.PostFormValue("dry_run") == "on",
		Errors: map[string]string{}}
	a, err := u.Service.StartRun(r.Context(), se.actor(), u.Feed, service.RunRequest{Since: f.Since, Until: f.Until, DryRun: f.DryRun})
	var ve *service.ValidationError
	var ip *store.InProgressError
	switch {
	case errors.As(err, &ve):
		for _, fe := range ve.Fields {
			f.Errors[fe.Field] = fe.Msg
		}
		return u.renderActivity(w, r, se, http.StatusBadRequest, view{Error: "The run was not started: correct the fields marked below."},
			integrationData{Run: f})
	case errors.As(err, &ip):
		msg := "The run was not started: a run of this feed is in progress. Wait for it to finish, or cancel it below, then start this one."
		if ip.RunID != 0 {
			msg = "The run was not started: run " + itoa(ip.RunID) + " of this feed is in progress. Wait for it to finish, or cancel it below, then start this one."
		}
		return u.renderActivity(w, r, se, http.StatusConflict, view{Error: msg}, integrationData{Run: f})
	case errors.Is(err, feed.ErrConfig):
		return u.renderActivity(w, r, se, http.StatusConflict, view{Error: "The run was not started: " + plainError(err.Error())}, integrationData{Run: f})
	case err != nil:
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
