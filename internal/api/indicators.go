package api

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/prediction"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

func (s *Server) listIndicators(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	iq := store.IndicatorQuery{
		Q: q.Get("q"), Category: q.Get("category"), Source: q.Get("source"), Sort: q.Get("sort"),
		Normalized: q.Get("normalized"), Cursor: q.Get("cursor"), Feed: q.Get("feed"),
		// The API renders a network as its CIDR (type CIDR).
		Networks: true,
	}
	var err error
	if iq.MinSources, err = intParam(q.Get("min_sources"), "min_sources", 0); err != nil {
		return err
	}
	if v := q.Get("min_confidence"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			return badRequest("min_confidence", "min_confidence must be a whole number from 0 to 100, not %q", v)
		}
		iq.MinConfidence = &n
	}
	if iq.Limit, err = intParam(q.Get("limit"), "limit", 0); err != nil {
		return err
	}
	if v := q.Get("cidr"); v != "" {
		if iq.CIDR, err = parseCIDR(v); err != nil {
			return err
		}
	}
	if v := q.Get("min_importance"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 100 {
			return badRequest("min_importance", "min_importance must be a number from 0 to 100, not %q", v)
		}
		iq.MinImportance = &f
	}
	if v := q.Get("status"); v != "" {
		if iq.Status, err = parseStatus("status", v); err != nil {
			return err
		}
	}
	if v := q.Get("updated_since"); v != "" {
		t, err := service.ParseTime("updated_since", v)
		if err != nil {
			return err
		}
		iq.UpdatedSince = *t
	}
	df, err := service.ParseDateFilter(q.Get("date"), q.Get("from"), q.Get("until"))
	if err != nil {
		return err
	}
	iq.DateField, iq.From, iq.Until = df.Field, df.From, df.Until
	page, err := s.Store.SearchIndicators(r.Context(), iq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, indicatorPageJSON(page))
	return nil
}

// parseCIDR accepts a netblock or a single address.
func parseCIDR(v string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(strings.TrimSpace(v)); err == nil {
		return p.Masked(), nil
	}
	if a, ok := prediction.ParseIP([]byte(strings.TrimSpace(v))); ok {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, badRequest("cidr", "cidr must be a netblock such as 203.0.113.0/24 or 2001:db8::/32, not %q", v)
}

func parseStatus(field, v string) (indicator.Status, error) { return service.ParseStatus(field, v) }

func parseAddr(field, v string) (netip.Addr, error) { return service.ParseAddr(field, v) }

func (s *Server) getIndicator(w http.ResponseWriter, r *http.Request) error {
	a, err := parseAddr("value", r.PathValue("value"))
	if err != nil {
		return err
	}
	ind, err := s.Store.Lookup(r.Context(), a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, indicatorJSON(ind))
	return nil
}

// StatusChange is the body of PATCH /indicators/{value}.
type StatusChange struct {
	Status string `json:"status"`
}

func (s *Server) patchIndicator(w http.ResponseWriter, r *http.Request) error {
	var req StatusChange
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	ind, err := s.Service.SetIndicatorStatus(r.Context(), actor(r), r.PathValue("value"), req.Status)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, indicatorJSON(ind))
	return nil
}

// MaxLookup is how many addresses one POST /lookup may ask about.
const MaxLookup = 10000

func (s *Server) lookupOne(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query().Get("ip")
	if v == "" {
		return badRequest("ip", "give the address to look up: ?ip=203.0.113.7 (or POST a list)")
	}
	a, err := parseAddr("ip", v)
	if err != nil {
		return err
	}
	res, err := s.Lookup.Lookup(r.Context(), a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, lookupJSON(res))
	return nil
}

// LookupRequest is the body of POST /lookup.
type LookupRequest struct {
	IPs []string `json:"ips"`
}

func (s *Server) lookupMany(w http.ResponseWriter, r *http.Request) error {
	var req LookupRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if len(req.IPs) == 0 {
		return badRequest("ips", `give the addresses to look up: {"ips": ["203.0.113.7", ...]}`)
	}
	if len(req.IPs) > MaxLookup {
		return badRequest("ips", "at most %d addresses per request, not %d: split the list", MaxLookup, len(req.IPs))
	}
	addrs := make([]netip.Addr, len(req.IPs))
	for i, v := range req.IPs {
		a, err := parseAddr("ips["+strconv.Itoa(i)+"]", v)
		if err != nil {
			return err
		}
		addrs[i] = a
	}
	res, err := s.Lookup.LookupMany(r.Context(), addrs)
	if err != nil {
		return err
	}
	results := make([]LookupResult, len(res))
	for i, r := range res {
		results[i] = lookupJSON(r)
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results, "index_built_at": s.Lookup.Built().UTC().Format(time.RFC3339)})
	return nil
}
