package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"forewarn/internal/service"
	"forewarn/internal/store"
)

// keysData is the API keys page: the keys, the form to make one, and the
// key just made (shown this once).
type keysData struct {
	Keys []store.APIKey
	Name string
	Role string
	Note string
	Errs map[string]string
	// New is the key just created: its only showing.
	New     string
	NewName string
}

// keysPage lists the API keys (admins only: names and roles are who can do
// what).
func (u *UI) keysPage(w http.ResponseWriter, r *http.Request, se *session) error {
	v := view{}
	if q := r.URL.Query(); se.signed(q.Get("sig"), "revoked", q.Get("revoked")) {
		v.Notice = "Key " + q.Get("revoked") + " revoked: it no longer signs in or calls the API."
	}
	return u.renderKeys(w, r, se, http.StatusOK, v, keysData{Role: "read"})
}

func (u *UI) renderKeys(w http.ResponseWriter, r *http.Request, se *session, status int, v view, d keysData) error {
	if !se.Admin() {
		u.fail(w, r, se, http.StatusForbidden, "The API keys page needs an admin key: you are signed in with a read-only key.")
		return nil
	}
	keys, err := u.Store.APIKeys(r.Context())
	if err != nil {
		return err
	}
	d.Keys = keys
	if d.Errs == nil {
		d.Errs = map[string]string{}
	}
	v.Title, v.Nav, v.Session, v.Data = "API keys", "keys", se, d
	if d.New != "" {
		// The page holds a secret: no cache may keep it.
		w.Header().Set("Cache-Control", "no-store")
	}
	return u.render(w, status, "keys", v)
}

// createKey makes a key and shows it once, on the answer to the POST (a
// redirect would have to carry it in a URL).
func (u *UI) createKey(w http.ResponseWriter, r *http.Request, se *session) error {
	d := keysData{Name: strings.TrimSpace(r.PostFormValue("name")), Role: r.PostFormValue("role"),
		Note: strings.TrimSpace(r.PostFormValue("note")), Errs: map[string]string{}}
	key, k, err := u.Service.CreateKey(r.Context(), se.actor(), d.Name, d.Role, d.Note)
	var ve *service.ValidationError
	switch {
	case errors.As(err, &ve):
		for _, fe := range ve.Fields {
			d.Errs[fe.Field] = fe.Msg
		}
		return u.renderKeys(w, r, se, http.StatusBadRequest, view{Error: "No key was created: correct the fields marked below."}, d)
	case errors.Is(err, store.ErrConflict):
		d.Errs["name"] = "A key named " + d.Name + " exists: choose another name."
		return u.renderKeys(w, r, se, http.StatusConflict, view{Error: "No key was created: correct the fields marked below."}, d)
	case err != nil:
		return err
	}
	d.New, d.NewName, d.Name, d.Role, d.Note = key, k.Name, "", "read", ""
	return u.renderKeys(w, r, se, http.StatusOK, view{Notice: "Key " + k.Name + " created with the " + string(k.Role) + " role."}, d)
}

func (u *UI) revokeKey(w http.ResponseWriter, r *http.Request, se *session) error {
	id := r.PostFormValue("id")
	k, _, err := u.Service.RevokeKey(r.Context(), se.actor(), id)
	var ve *service.ValidationError
	switch {
	case errors.As(err, &ve):
		u.fail(w, r, se, http.StatusBadRequest, "No key was revoked: "+ve.Error()+".")
		return nil
	case errors.Is(err, store.ErrNotFound):
		u.fail(w, r, se, http.StatusNotFound, "No key was revoked: there is no key "+id+". Reload the API keys page.")
		return nil
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/keys?revoked="+url.QueryEscape(k.Name)+"&sig="+se.sign("revoked", k.Name), http.StatusSeeOther)
	return nil
}

// auditData is the audit log page: its filters and one page of entries.
type auditData struct {
	Action, Actor, Target string
	Entries               []store.AuditEntry
	NextURL, FirstURL     string
	Actions               []string
}

// AuditPage is how many audit entries a page shows.
const AuditPage = 100

// auditActions are the operations the service records, for the filter.
var auditActions = []string{"feed.", "run.", "indicator.", "allowlist.", "apikey.", "ui."}

func (u *UI) auditPage(w http.ResponseWriter, r *http.Request, se *session) error {
	if !se.Admin() {
		u.fail(w, r, se, http.StatusForbidden, "The audit log needs an admin key: you are signed in with a read-only key.")
		return nil
	}
	q := r.URL.Query()
	d := auditData{Action: q.Get("action"), Actor: strings.TrimSpace(q.Get("actor")), Target: strings.TrimSpace(q.Get("target")), Actions: auditActions}
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	es, err := u.Store.SearchAudit(r.Context(), store.AuditQuery{Action: d.Action, Actor: d.Actor, Target: d.Target, Before: before, Limit: AuditPage + 1})
	if err != nil {
		return err
	}
	base := url.Values{}
	for k, v := range map[string]string{"action": d.Action, "actor": d.Actor, "target": d.Target} {
		if v != "" {
			base.Set(k, v)
		}
	}
	if len(es) > AuditPage {
		es = es[:AuditPage]
		next := url.Values{}
		for k, v := range base {
			next[k] = v
		}
		next.Set("before", strconv.FormatInt(es[AuditPage-1].ID, 10))
		d.NextURL = "/audit?" + next.Encode()
	}
	if before > 0 {
		d.FirstURL = "/audit?" + base.Encode()
	}
	d.Entries = es
	return u.render(w, http.StatusOK, "audit", view{Title: "Audit log", Nav: "audit", Session: se, Data: d})
}
