package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"forewarn/internal/export"
	"forewarn/internal/output"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

// outputsData is the output profiles page: the profiles, the form to add
// one (with what was typed), and a key just made or rotated (shown this
// once).
type outputsData struct {
	Outputs []outputRow
	Form    outputForm
	Formats []export.Format
	Ranks   []string
	Errs    map[string]string
	// New is the key just made or rotated, for NewName: its only showing.
	New, NewName string
}

// outputRow is one profile as the page lists it.
type outputRow struct {
	service.Output
	Budget string // "at most N by RANK", or "none"
	Filter string // the feeds, sources and confidence it keeps, or ""
	Path   string
}

// outputForm is what the add form sent, to show again on a refusal.
type outputForm struct {
	Name, Format, Max, Rank, Feeds, MinSources, MinConfidence string
}

func (u *UI) outputsPage(w http.ResponseWriter, r *http.Request, se *session) error {
	v := view{}
	if q := r.URL.Query(); se.signed(q.Get("sig"), "removed", q.Get("removed")) {
		v.Notice = "Output " + q.Get("removed") + " removed: its key no longer opens anything."
	}
	return u.renderOutputs(w, r, se, http.StatusOK, v, outputsData{Form: outputForm{Format: string(export.EDL)}})
}

func (u *UI) renderOutputs(w http.ResponseWriter, r *http.Request, se *session, status int, v view, d outputsData) error {
	if !se.Admin() {
		u.fail(w, r, se, http.StatusForbidden, "The outputs page needs an admin key: you are signed in with a read-only key.")
		return nil
	}
	all, err := u.Service.Outputs(r.Context())
	if err != nil {
		return err
	}
	for _, o := range all {
		d.Outputs = append(d.Outputs, outputRow{Output: o, Budget: budgetText(o.Spec), Filter: filterText(o.Spec), Path: "/outputs/" + o.Name})
	}
	d.Formats, d.Ranks = export.Formats, output.Ranks
	if d.Errs == nil {
		d.Errs = map[string]string{}
	}
	v.Title, v.Nav, v.Session, v.Data = "Outputs", "outputs", se, d
	if d.New != "" {
		w.Header().Set("Cache-Control", "no-store") // the page holds a secret
	}
	return u.render(w, status, "outputs", v)
}

func budgetText(s output.Spec) string {
	if s.Max == 0 {
		return "none"
	}
	rank := s.Rank
	if rank == "" {
		rank = store.RankImportance
	}
	return fmt.Sprintf("at most %s by %s", num(int64(s.Max)), rank)
}

func filterText(s output.Spec) string {
	var parts []string
	if len(s.Feeds) > 0 {
		parts = append(parts, "listed by "+strings.Join(s.Feeds, " or "))
	}
	if s.MinSources > 0 {
		parts = append(parts, fmt.Sprintf("at least %d sources", s.MinSources))
	}
	if s.MinConfidence != nil {
		parts = append(parts, fmt.Sprintf("confidence at least %d", *s.MinConfidence))
	}
	return strings.Join(parts, ", ")
}

// createOutput adds a profile and shows its key once, on the answer to
// the POST (a redirect would have to carry it in a URL).
func (u *UI) createOutput(w http.ResponseWriter, r *http.Request, se *session) error {
	f := outputForm{Name: strings.TrimSpace(r.PostFormValue("name")), Format: r.PostFormValue("format"), Max: strings.TrimSpace(r.PostFormValue("max")),
		Rank: r.PostFormValue("rank"), Feeds: strings.TrimSpace(r.PostFormValue("feeds")),
		MinSources: strings.TrimSpace(r.PostFormValue("min_sources")), MinConfidence: strings.TrimSpace(r.PostFormValue("min_confidence"))}
	d := outputsData{Form: f, Errs: map[string]string{}}
	spec, ok := parseOutputForm(f, d.Errs)
	var key string
	var o service.Output
	var err error
	if ok {
		key, o, err = u.Service.CreateOutput(r.Context(), se.actor(), f.Name, spec)
	}
	var ve *service.ValidationError
	switch {
	case errors.As(err, &ve):
		for _, fe := range ve.Fields {
			d.Errs[fe.Field] = fe.Msg
		}
		ok = false
	case errors.Is(err, store.ErrConflict):
		d.Errs["name"] = "An output named " + f.Name + " exists: choose another name."
		return u.renderOutputs(w, r, se, http.StatusConflict, view{Error: "No output was added: correct the fields marked below."}, d)
	case err != nil:
		return err
	}
	if !ok {
		return u.renderOutputs(w, r, se, http.StatusBadRequest, view{Error: "No output was added: correct the fields marked below."}, d)
	}
	d = outputsData{Form: outputForm{Format: string(export.EDL)}, New: key, NewName: o.Name}
	return u.renderOutputs(w, r, se, http.StatusOK, view{Notice: "Output " + o.Name + " added: it is served at /outputs/" + o.Name + "."}, d)
}

// parseOutputForm reads the numbers and lists of the add form into a spec,
// noting in errs the fields that are not numbers; the service checks the
// rest.
func parseOutputForm(f outputForm, errs map[string]string) (output.Spec, bool) {
	spec := output.Spec{Format: export.Format(f.Format), Rank: f.Rank}
	number := func(field, v string, into *int) {
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs[field] = fmt.Sprintf("%q is not a whole number.", v)
			return
		}
		*into = n
	}
	number("max", f.Max, &spec.Max)
	number("min_sources", f.MinSources, &spec.MinSources)
	if f.MinConfidence != "" {
		var c int
		number("min_confidence", f.MinConfidence, &c)
		spec.MinConfidence = &c
	}
	for _, feed := range strings.Split(f.Feeds, ",") {
		if feed = strings.TrimSpace(feed); feed != "" {
			spec.Feeds = append(spec.Feeds, feed)
		}
	}
	if spec.Max == 0 && spec.Rank == store.RankImportance {
		spec.Rank = "" // the form's default rank, without a budget to order
	}
	return spec, len(errs) == 0
}

// rotateOutputKey gives a profile a new key and shows it once.
func (u *UI) rotateOutputKey(w http.ResponseWriter, r *http.Request, se *session) error {
	name := r.PostFormValue("name")
	key, o, err := u.Service.RotateOutputKey(r.Context(), se.actor(), name)
	if errors.Is(err, store.ErrNotFound) {
		u.fail(w, r, se, http.StatusNotFound, "No key was rotated: there is no output "+name+". Reload the outputs page.")
		return nil
	}
	if err != nil {
		return err
	}
	d := outputsData{Form: outputForm{Format: string(export.EDL)}, New: key, NewName: o.Name}
	return u.renderOutputs(w, r, se, http.StatusOK, view{Notice: "Output " + o.Name + " has a new key: the old one no longer works."}, d)
}

func (u *UI) removeOutput(w http.ResponseWriter, r *http.Request, se *session) error {
	name := r.PostFormValue("name")
	err := u.Service.DeleteOutput(r.Context(), se.actor(), name)
	if errors.Is(err, store.ErrNotFound) {
		u.fail(w, r, se, http.StatusNotFound, "No output was removed: there is no output "+name+". Reload the outputs page.")
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/output-profiles?removed="+url.QueryEscape(name)+"&sig="+se.sign("removed", name), http.StatusSeeOther)
	return nil
}
