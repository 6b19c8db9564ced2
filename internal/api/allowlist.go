package api

import (
	"net/http"
	"net/url"

	"forewarn/internal/allowlist"
)

// AllowlistEntry is one allow-listed range as the API shows it: a person's
// entry, or a built-in special-purpose range and whether those are on.
type AllowlistEntry struct {
	allowlist.Entry
	// Enabled is false for built-in ranges the feed's
	// allowlist_special_ranges turned off.
	Enabled bool `json:"enabled"`
}

func (s *Server) listAllowlist(w http.ResponseWriter, r *http.Request) error {
	entries, err := s.Store.AllowlistEntries(r.Context())
	if err != nil {
		return err
	}
	cfg, _, err := s.Store.FeedConfig(r.Context(), "seclytics")
	if err != nil {
		return err
	}
	out := make([]AllowlistEntry, 0, len(entries)+len(allowlist.Special()))
	for _, e := range entries {
		out = append(out, AllowlistEntry{e, true})
	}
	for _, e := range allowlist.Special() {
		out = append(out, AllowlistEntry{e, cfg.AllowlistSpecialRanges})
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out, "special_ranges": cfg.AllowlistSpecialRanges})
	return nil
}

// AllowlistRequest is the body of POST /allowlist.
type AllowlistRequest struct {
	CIDR    string `json:"cidr"`
	Comment string `json:"comment"`
}

func (s *Server) addAllowlist(w http.ResponseWriter, r *http.Request) error {
	var req AllowlistRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	e, n, err := s.Service.AddAllowlistEntry(r.Context(), actor(r), req.CIDR, req.Comment)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/allowlist/"+url.PathEscape(e.Prefix.String()))
	writeJSON(w, http.StatusCreated, map[string]any{"entry": AllowlistEntry{e, true}, "indicators_whitelisted": n})
	return nil
}

// removeAllowlist takes the range from the path ({cidr}, its "/" escaped as
// %2F) or, for clients and proxies that unescape it, from ?cidr=.
func (s *Server) removeAllowlist(w http.ResponseWriter, r *http.Request) error {
	v := r.PathValue("cidr")
	if v == "" {
		v = r.URL.Query().Get("cidr")
	}
	p, err := s.Service.RemoveAllowlistEntry(r.Context(), actor(r), v)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"removed": p.String(),
		"note": "indicators it whitelisted stay Whitelisted until a person changes their status"})
	return nil
}
