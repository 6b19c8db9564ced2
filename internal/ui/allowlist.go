package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"forewarn/internal/allowlist"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

// allowlistData is what the allow-list page shows.
type allowlistData struct {
	Entries   []allowlist.Entry
	Special   []allowlist.Entry
	SpecialOn bool
	// CIDR and Comment keep what was typed when an addition failed, and
	// Err says why, next to the field.
	CIDR    string
	Comment string
	Err     string
}

func (u *UI) allowlistPage(w http.ResponseWriter, r *http.Request, se *session) error {
	v := view{Notice: allowlistNotice(r.URL.Query(), se)}
	return u.renderAllowlist(w, r, se, http.StatusOK, v, allowlistData{})
}

// allowlistNotice confirms the change named by the redirect after an
// addition or a removal. Anyone can write such a query into a link sent
// to an admin, so the notice is shown only if the query carries this
// session's signature of it, which only the redirect has.
func allowlistNotice(q url.Values, se *session) string {
	if !se.signed(q.Get("sig"), q.Get("added"), q.Get("whitelisted"), q.Get("removed")) {
		return ""
	}
	if added := q.Get("added"); added != "" {
		noun := "indicators"
		if q.Get("whitelisted") == "1" {
			noun = "indicator"
		}
		return fmt.Sprintf("Added %s to the allow-list: %s existing %s whitelisted.", added, q.Get("whitelisted"), noun)
	}
	if removed := q.Get("removed"); removed != "" {
		return fmt.Sprintf("Removed %s from the allow-list. The indicators it whitelisted stay Whitelisted until a person changes their status.", removed)
	}
	return ""
}

func (u *UI) renderAllowlist(w http.ResponseWriter, r *http.Request, se *session, status int, v view, d allowlistData) error {
	entries, err := u.Store.AllowlistEntries(r.Context())
	if err != nil {
		return err
	}
	cfg, _, err := u.Store.FeedConfig(r.Context(), u.Feed)
	if err != nil {
		return err
	}
	d.Entries, d.Special, d.SpecialOn = entries, allowlist.Special(), cfg.AllowlistSpecialRanges
	v.Title, v.Nav, v.Session, v.Data = "Allow-list", "allowlist", se, d
	return u.render(w, status, "allowlist", v)
}

// addAllowlist adds a person's entry and whitelists the stored indicators
// in it, as POST /api/v1/allowlist does.
func (u *UI) addAllowlist(w http.ResponseWriter, r *http.Request, se *session) error {
	d := allowlistData{CIDR: strings.TrimSpace(r.PostFormValue("cidr")), Comment: strings.TrimSpace(r.PostFormValue("comment"))}
	e, n, err := u.Service.AddAllowlistEntry(r.Context(), se.actor(), d.CIDR, d.Comment)
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		d.Err = ve.Error()
		if msg, ok := ve.Msg("cidr"); ok && len(ve.Fields) == 1 {
			d.Err = msg
		}
		return u.renderAllowlist(w, r, se, http.StatusBadRequest, view{}, d)
	}
	if errors.Is(err, store.ErrConflict) {
		d.Err = err.Error()
		return u.renderAllowlist(w, r, se, http.StatusConflict, view{}, d)
	}
	if err != nil {
		return err
	}
	added, whitelisted := e.Prefix.String(), strconv.FormatInt(n, 10)
	http.Redirect(w, r, "/allowlist?added="+url.QueryEscape(added)+"&whitelisted="+whitelisted+
		"&sig="+se.sign(added, whitelisted, ""), http.StatusSeeOther)
	return nil
}

// removeAllowlist removes a person's entry. Built-in ranges are not
// entries: the feed's allowlist_special_ranges turns them off.
func (u *UI) removeAllowlist(w http.ResponseWriter, r *http.Request, se *session) error {
	p, err := u.Service.RemoveAllowlistEntry(r.Context(), se.actor(), r.PostFormValue("cidr"))
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		u.fail(w, r, se, http.StatusBadRequest, "Nothing was removed: "+ve.Error()+".")
		return nil
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			u.fail(w, r, se, http.StatusNotFound, "Nothing was removed: "+err.Error()+". Reload the allow-list to see its entries.")
			return nil
		}
		return err
	}
	removed := p.String()
	http.Redirect(w, r, "/allowlist?removed="+url.QueryEscape(removed)+"&sig="+se.sign("", "", removed), http.StatusSeeOther)
	return nil
}
