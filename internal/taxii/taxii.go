package taxii

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/indicator"
	"forewarn/internal/stix"
	"forewarn/internal/store"
)

// Media types.
const (
	MediaTAXII = "application/taxii+json;version=2.1"
	MediaSTIX  = "application/stix+json;version=2.1"
)

// Object is one STIX object as the server serves it.
type Object struct {
	ID        string
	Type      string
	Version   time.Time // its modified (or created) time
	DateAdded time.Time
	JSON      json.RawMessage
}

// Mapper turns indicators into STIX objects.
type Mapper interface {
	// Identities are the objects every collection starts with.
	Identities() []Object
	// Objects are an indicator's objects, in a fixed order.
	Objects(ind *indicator.Indicator) ([]Object, error)
	// IndicatorTypes are the types Objects returns objects of.
	IndicatorTypes() []string
	// ObjectID is the id of the object of type typ that Objects returns
	// for the address in its generation (indicator.Indicator.Generation),
	// or "" if it returns none of that type.
	ObjectID(typ string, p netip.Prefix, generation int64) string
	// Purged are the objects of a purged indicator's tombstone (as
	// store.Store.SearchTombstones reads it), all revoked.
	Purged(ind *indicator.Indicator) []Object
}

// Store is what the server reads.
type Store interface {
	SearchIndicators(ctx context.Context, q store.IndicatorQuery) (store.IndicatorPage, error)
	AuthenticateAPIKey(ctx context.Context, key string) (store.APIKey, error)
	EachAddress(ctx context.Context, status indicator.Status, fn func(netip.Addr) bool) error
	// EachRenewed reads the few indicators past generation 0, with
	// their generation.
	EachRenewed(ctx context.Context, status indicator.Status, fn func(netip.Prefix, int64) error) error
	Lookup(ctx context.Context, addr netip.Addr) (indicator.Indicator, error)
	// EachNetwork and LookupNetwork read the networks list feeds list
	// (their CIDR entries): a few thousand, where addresses are millions.
	EachNetwork(ctx context.Context, fn func(netip.Prefix) error) error
	LookupNetwork(ctx context.Context, p netip.Prefix) (indicator.Indicator, error)
	// SearchTombstones and EachTombstone read the tombstones of the
	// indicators a purge deleted, kept store.TombstoneRetention.
	SearchTombstones(ctx context.Context, q store.TombstoneQuery) (store.TombstonePage, error)
	EachTombstone(ctx context.Context, fn func(*indicator.Indicator) error) error
}

// Collection is a TAXII collection: a view of the store's indicators.
type Collection struct {
	ID          string           `json:"id"`
	Title       string           `json:"title"`
	Description string           `json:"description"`
	Alias       string           `json:"alias"`
	CanRead     bool             `json:"can_read"`
	CanWrite    bool             `json:"can_write"`
	MediaTypes  []string         `json:"media_types"`
	status      indicator.Status // "" = every status
}

// Collections are the server's collections, with fixed ids.
var Collections = []Collection{
	{ID: "2d6ea3e1-6a4e-5f4b-9c3c-7b0c1d0a7a01", Alias: "seclytics-active", Title: "Seclytics Predictions: active",
		Description: "IP addresses Seclytics predicted would turn malicious and then saw doing so, that are Active in this forewarn.",
		CanRead:     true, MediaTypes: []string{MediaSTIX}, status: indicator.StatusActive},
	{ID: "2d6ea3e1-6a4e-5f4b-9c3c-7b0c1d0a7a02", Alias: "seclytics-all", Title: "Seclytics Predictions: every status",
		Description: "Every Seclytics indicator whatever its status (Active, Expired, Whitelisted, Review); expired ones carry valid_until.",
		CanRead:     true, MediaTypes: []string{MediaSTIX}},
}

// Root is where the server is mounted.
const Root = "/taxii2/"

// APIRoot is the one API root.
const APIRoot = Root + "api/"

// RequestTimeout bounds every TAXII request's work, from the key check on.
const RequestTimeout = 30 * time.Second

// DefaultLimit and MaxLimit bound a page of objects.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Server serves TAXII 2.1.
type Server struct {
	st  Store
	m   Mapper
	log *slog.Logger
	// scans admits MaxObjectScans object lookups at once (see find).
	scans chan struct{}
}

// MaxObjectScans is how many objects/{id}/ lookups read the store at once.
// A lookup reads every address of the collection (0.8 s at a million
// indicators on a loaded 2-CPU machine): an index of the ids would cost
// more than twice the ingest time, so the scans are bounded instead, and
// more at once answer 429 with Retry-After.
const MaxObjectScans = 2

// scanRetryAfter is the Retry-After, in seconds, of a lookup refused
// because MaxObjectScans are in progress: about one scan's time.
const scanRetryAfter = 5

// New returns a server.
func New(st Store, m Mapper, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{st: st, m: m, log: log, scans: make(chan struct{}, MaxObjectScans)}
}

// Register mounts the endpoints on mux.
func (s *Server) Register(mux *http.ServeMux) {
	h := func(f func(http.ResponseWriter, *http.Request) error) http.Handler {
		auth := s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := f(w, r); err != nil {
				s.writeError(w, r, err)
			}
		}))
		// The budget covers the key check too: a request must not wait
		// for the store without bound.
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
			defer cancel()
			auth.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	mux.Handle("GET "+Root+"{$}", h(s.discovery))
	mux.Handle("GET "+APIRoot+"{$}", h(s.apiRoot))
	mux.Handle("GET "+APIRoot+"collections/{$}", h(s.collections))
	mux.Handle("GET "+APIRoot+"collections/{id}/{$}", h(s.collection))
	mux.Handle("GET "+APIRoot+"collections/{id}/objects/{$}", h(s.objects))
	mux.Handle("GET "+APIRoot+"collections/{id}/objects/{object}/{$}", h(s.object))
	mux.Handle("GET "+APIRoot+"collections/{id}/objects/{object}/versions/{$}", h(s.versions))
	mux.Handle("GET "+APIRoot+"collections/{id}/manifest/{$}", h(s.manifest))
	mux.Handle(Root, h(func(w http.ResponseWriter, r *http.Request) error {
		return &taxiiError{http.StatusNotFound, "Not found", "no TAXII endpoint at " + r.URL.Path}
	}))
}

// taxiiError is the TAXII error message resource.
type taxiiError struct {
	status      int
	title       string
	description string
}

func (e *taxiiError) Error() string { return e.title + ": " + e.description }

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var te *taxiiError
	switch {
	case errors.As(err, &te):
	case r.Context().Err() != nil:
		te = &taxiiError{http.StatusServiceUnavailable, "Timed out", "the request ran out of its time budget (or was canceled): try again"}
	case errors.Is(err, store.ErrBadCursor):
		// A forged store cursor inside a well-formed next.
		te = &taxiiError{http.StatusBadRequest, "Bad next", "next is not one this server returned: start again without it"}
	default:
		s.log.Error("TAXII request failed", "path", r.URL.Path, "err", err)
		te = &taxiiError{http.StatusInternalServerError, "Internal error", "see the server's log"}
	}
	if te.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(scanRetryAfter))
	}
	writeTAXII(w, te.status, map[string]any{"title": te.title, "description": te.description, "http_status": strconv.Itoa(te.status)})
}

func writeTAXII(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", MediaTAXII)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// authenticate checks basic auth (the key is the password, read role) and
// the Accept header.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, key, ok := r.BasicAuth()
		if !ok || key == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="forewarn TAXII"`)
			s.writeError(w, r, &taxiiError{http.StatusUnauthorized, "Unauthorized", "send an API key as the basic-auth password (any user name)"})
			return
		}
		k, err := s.st.AuthenticateAPIKey(r.Context(), key)
		if err != nil {
			if errors.Is(err, store.ErrUnauthorized) {
				w.Header().Set("WWW-Authenticate", `Basic realm="forewarn TAXII"`)
				err = &taxiiError{http.StatusUnauthorized, "Unauthorized", "the API key is unknown or revoked"}
			}
			s.writeError(w, r, err)
			return
		}
		if !k.Role.Allows(apikey.RoleRead) {
			s.writeError(w, r, &taxiiError{http.StatusForbidden, "Forbidden", "the key's role cannot read"})
			return
		}
		if !acceptable(r.Header.Get("Accept")) {
			s.writeError(w, r, &taxiiError{http.StatusNotAcceptable, "Not acceptable", "this server answers " + MediaTAXII})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// acceptable reports whether an Accept header admits TAXII 2.1 JSON.
func acceptable(accept string) bool {
	if accept == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/taxii+json":
			if v, ok := params["version"]; !ok || v == "2.1" {
				return true
			}
		case "*/*", "application/*":
			return true
		}
	}
	return false
}

// base is the request's scheme and host, for absolute URLs.
func base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) error {
	root := base(r) + APIRoot
	writeTAXII(w, http.StatusOK, map[string]any{
		"title":       "forewarn",
		"description": "Threat intelligence forewarn ingested, starting with Seclytics Predictions.",
		"default":     root,
		"api_roots":   []string{root},
	})
	return nil
}

func (s *Server) apiRoot(w http.ResponseWriter, r *http.Request) error {
	writeTAXII(w, http.StatusOK, map[string]any{
		"title":              "forewarn indicators",
		"versions":           []string{MediaTAXII},
		"max_content_length": 0, // read-only: accepts no content
	})
	return nil
}

func (s *Server) collections(w http.ResponseWriter, r *http.Request) error {
	writeTAXII(w, http.StatusOK, map[string]any{"collections": Collections})
	return nil
}

func findCollection(r *http.Request) (*Collection, error) {
	id := r.PathValue("id")
	for i := range Collections {
		if Collections[i].ID == id || Collections[i].Alias == id {
			return &Collections[i], nil
		}
	}
	return nil, &taxiiError{http.StatusNotFound, "Collection not found", fmt.Sprintf("no collection %q", id)}
}

func (s *Server) collection(w http.ResponseWriter, r *http.Request) error {
	c, err := findCollection(r)
	if err != nil {
		return err
	}
	writeTAXII(w, http.StatusOK, c)
	return nil
}

// TimeFormat is how TAXII timestamps are written: UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

func stamp(t time.Time) string { return t.UTC().Format(TimeFormat) }

// query is a parsed objects/manifest request.
type query struct {
	addedAfter time.Time
	limit      int
	pos        position
	ids        map[string]bool
	types      map[string]bool
	versions   []string // "last", "first", "all" or timestamps
}

func parseQuery(r *http.Request) (query, error) {
	v := r.URL.Query()
	q := query{limit: DefaultLimit}
	bad := func(f, format string, a ...any) error {
		return &taxiiError{http.StatusBadRequest, "Bad " + f, fmt.Sprintf(format, a...)}
	}
	if s := v.Get("added_after"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, bad("added_after", "added_after must be a timestamp such as 2026-01-31T12:00:00.000Z, not %q", s)
		}
		q.addedAfter = t
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, bad("limit", "limit must be a positive whole number, not %q", s)
		}
		q.limit = min(n, MaxLimit)
	}
	if s := v.Get("next"); s != "" {
		p, err := decodePosition(s)
		if err != nil {
			return q, bad("next", "next %.40q is not one this server returned: start again without it", s)
		}
		q.pos = p
	}
	split := func(key string) map[string]bool {
		s := v.Get(key)
		if s == "" {
			return nil
		}
		m := map[string]bool{}
		for _, x := range strings.Split(s, ",") {
			m[strings.TrimSpace(x)] = true
		}
		return m
	}
	q.ids, q.types = split("match[id]"), split("match[type]")
	if s := v.Get("match[version]"); s != "" {
		q.versions = strings.Split(s, ",")
	}
	return q, nil
}

// matches applies match[id], match[type] and match[version]. Every object
// has one version here, so "first", "last" and "all" all match it.
func (q *query) matches(o *Object) bool {
	if q.ids != nil && !q.ids[o.ID] {
		return false
	}
	if q.types != nil && !q.types[o.Type] {
		return false
	}
	if len(q.versions) == 0 {
		return true
	}
	for _, v := range q.versions {
		switch v = strings.TrimSpace(v); v {
		case "first", "last", "all":
			return true
		default:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.Equal(o.Version) {
				return true
			}
		}
	}
	return false
}

// position is a place in a collection's object stream: the identities
// first, then each indicator's objects in update order, then each purged
// indicator's in purge order.
type position struct {
	Indicators bool   `json:"i,omitempty"` // past the identities
	Purged     bool   `json:"p,omitempty"` // past the indicators: Cursor is a tombstone's
	Cursor     string `json:"c,omitempty"` // store cursor after the last whole indicator
	Skip       int    `json:"k,omitempty"` // objects already sent of the next one,
	Partial    string `json:"v,omitempty"` // which is this indicator (if it changed meanwhile, it moved: skip nothing)
}

func (p position) encode() string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

// maxNext bounds a next parameter: a position is a store cursor, an
// address and two small fields, well under this.
const maxNext = 512

// maxSkip bounds position.Skip: no indicator has, and the identities are
// not, that many objects.
const maxSkip = 64

// errBadNext is wrapped when next is not a position this server returned.
var errBadNext = errors.New("not a position this server returned")

// decodePosition decodes and validates next: a forged one must never
// index outside a page (a negative skip panicked).
func decodePosition(s string) (position, error) {
	var p position
	if len(s) > maxNext {
		return p, errBadNext
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return p, fmt.Errorf("%w: %w", errBadNext, err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("%w: %w", errBadNext, err)
	}
	if p.Skip < 0 || p.Skip > maxSkip || (!p.Indicators && (p.Cursor != "" || p.Partial != "" || p.Purged)) {
		return p, errBadNext
	}
	return p, nil
}

// page collects up to q.limit matching objects from q's position and
// reports where the next page starts, or more=false at the end.
func (s *Server) page(ctx context.Context, c *Collection, q query) (objs []Object, next position, more bool, err error) {
	pos := q.pos
	if !pos.Indicators {
		ids := s.m.Identities()
		for j := pos.Skip; j < len(ids); j++ {
			if !ids[j].DateAdded.After(q.addedAfter) || !q.matches(&ids[j]) {
				continue
			}
			if len(objs) == q.limit {
				return objs, position{Skip: j}, true, nil
			}
			objs = append(objs, ids[j])
		}
		pos = position{Indicators: true}
	}
	if !s.anyIndicatorType(q.types) {
		// No indicator's object can match: answer without reading them.
		return objs, pos, false, nil
	}
	// The purged indicators' tombstones, revoked, follow the indicators
	// where revoked ones are published: in a collection of every status,
	// and in a poll for what changed (added_after).
	purged := c.status == "" || !q.addedAfter.IsZero()
	// Stored times are whole seconds: "after" is from the next second.
	var since time.Time
	if !q.addedAfter.IsZero() {
		since = q.addedAfter.Truncate(time.Second).Add(time.Second)
	}
	if !pos.Purged {
		var done bool
		if objs, pos, done, err = s.indicatorPages(ctx, c, q, since, pos, objs); err != nil || !done {
			return objs, pos, !done, err
		}
		if !purged {
			return objs, pos, false, nil
		}
		pos = position{Indicators: true, Purged: true}
	}
	tq := store.TombstoneQuery{PurgedSince: since, Cursor: pos.Cursor, Limit: 200}
	for {
		pg, err := s.st.SearchTombstones(ctx, tq)
		if err != nil {
			return nil, next, false, err
		}
		for i := range pg.Tombstones {
			ind := &pg.Tombstones[i]
			var full bool
			if objs, full = q.fill(objs, s.m.Purged(ind), ind, &pos); full {
				return objs, pos, true, nil
			}
			if pos.Cursor, err = store.CursorAfter(ind, "updated"); err != nil {
				return nil, next, false, err
			}
		}
		if pg.Next == "" {
			return objs, pos, false, nil
		}
		tq.Cursor = pg.Next
	}
}

// indicatorPages adds to objs the matching objects of the collection's
// indicators from pos, updated at or after since, until the page is full
// (done false, pos where the next page starts) or they end (done true).
func (s *Server) indicatorPages(ctx context.Context, c *Collection, q query, since time.Time, pos position, objs []Object) (_ []Object, _ position, done bool, err error) {
	// Networks too: a list feed's CIDR entry is an ipv4-addr or ipv6-addr
	// object whose value is the CIDR.
	sq := store.IndicatorQuery{Status: c.status, Sort: "updated", Limit: 200, Cursor: pos.Cursor, Networks: true, UpdatedSince: since}
	// A poll for what changed (added_after) of a collection of one status
	// also gets the indicators that left it since by expiring or being
	// whitelisted, published again as revoked: without them a consumer
	// would keep blocking what forewarn no longer lists. A first poll
	// gets only the collection's current indicators.
	removals := c.status != "" && !q.addedAfter.IsZero()
	if removals {
		sq.Status = ""
	}
	for {
		pg, err := s.st.SearchIndicators(ctx, sq)
		if err != nil {
			return nil, pos, false, err
		}
		for i := range pg.Indicators {
			ind := &pg.Indicators[i]
			var os []Object
			if !removals || ind.Status == c.status || stix.Revoked(ind.Status) {
				if os, err = s.m.Objects(ind); err != nil {
					return nil, pos, false, err
				}
			}
			var full bool
			if objs, full = q.fill(objs, os, ind, &pos); full {
				return objs, pos, false, nil
			}
			if pos.Cursor, err = store.CursorAfter(ind, "updated"); err != nil {
				return nil, pos, false, err
			}
		}
		if pg.Next == "" {
			return objs, pos, true, nil
		}
		sq.Cursor = pg.Next
	}
}

// fill adds to objs the matching objects of one indicator, os, past those
// pos says were sent of it. If the page fills first, it reports full, pos
// naming the object the next page starts at; otherwise pos is left with
// no skip, for the caller to move its cursor past the indicator.
func (q *query) fill(objs, os []Object, ind *indicator.Indicator, pos *position) ([]Object, bool) {
	skip := pos.Skip
	if pos.Partial != ind.Value() {
		skip = 0
	}
	for j := skip; j < len(os); j++ {
		if !q.matches(&os[j]) {
			continue
		}
		if len(objs) == q.limit {
			pos.Skip, pos.Partial = j, ind.Value()
			return objs, true
		}
		objs = append(objs, os[j])
	}
	pos.Skip, pos.Partial = 0, ""
	return objs, false
}

// envelopeHeaders sets X-TAXII-Date-Added-First and -Last.
func envelopeHeaders(w http.ResponseWriter, objs []Object) {
	if len(objs) == 0 {
		return
	}
	first, last := objs[0].DateAdded, objs[0].DateAdded
	for _, o := range objs {
		if o.DateAdded.Before(first) {
			first = o.DateAdded
		}
		if o.DateAdded.After(last) {
			last = o.DateAdded
		}
	}
	w.Header().Set("X-TAXII-Date-Added-First", stamp(first))
	w.Header().Set("X-TAXII-Date-Added-Last", stamp(last))
}

// request reads a collection's page as the request asks.
func (s *Server) request(r *http.Request) (objs []Object, next position, more bool, err error) {
	c, err := findCollection(r)
	if err != nil {
		return nil, next, false, err
	}
	q, err := parseQuery(r)
	if err != nil {
		return nil, next, false, err
	}
	return s.page(r.Context(), c, q)
}

func (s *Server) objects(w http.ResponseWriter, r *http.Request) error {
	objs, next, more, err := s.request(r)
	if err != nil {
		return err
	}
	return writeEnvelope(w, objs, next, more)
}

func writeEnvelope(w http.ResponseWriter, objs []Object, next position, more bool) error {
	raw := make([]json.RawMessage, len(objs))
	for i := range objs {
		raw[i] = objs[i].JSON
	}
	env := map[string]any{"more": more, "objects": raw}
	if more {
		env["next"] = next.encode()
	}
	envelopeHeaders(w, objs)
	writeTAXII(w, http.StatusOK, env)
	return nil
}

func (s *Server) manifest(w http.ResponseWriter, r *http.Request) error {
	objs, next, more, err := s.request(r)
	if err != nil {
		return err
	}
	records := make([]map[string]any, len(objs))
	for i, o := range objs {
		records[i] = map[string]any{"id": o.ID, "date_added": stamp(o.DateAdded), "version": stamp(o.Version), "media_type": MediaSTIX}
	}
	env := map[string]any{"more": more, "objects": records}
	if more {
		env["next"] = next.encode()
	}
	envelopeHeaders(w, objs)
	writeTAXII(w, http.StatusOK, env)
	return nil
}

// anyIndicatorType reports whether an indicator's objects can have one of
// types (nil: any type).
func (s *Server) anyIndicatorType(types map[string]bool) bool {
	if types == nil {
		return true
	}
	for _, t := range s.m.IndicatorTypes() {
		if types[t] {
			return true
		}
	}
	return false
}

// find returns the object with the id in the collection. The ids of an
// indicator's objects are UUIDv5 digests of its address (and generation),
// which cannot be reversed: find reads only the addresses (no attributes,
// no JSON), hashes each into an id of the requested type, and maps the one
// indicator that matches. The indicator id an indicator had before a
// revocation it left is found as its revoked version (stix.Superseded);
// the earlier relationship's is not: it no longer publishes it. A purged
// indicator's ids are found in its tombstone, in every collection. An id of a type no
// indicator has is not found at once. At most MaxObjectScans read at
// once; the request's budget ends a scan.
func (s *Server) find(ctx context.Context, c *Collection, id string) (*Object, error) {
	notFound := &taxiiError{http.StatusNotFound, "Object not found", fmt.Sprintf("no object %q in collection %s", id, c.Alias)}
	for _, o := range s.m.Identities() {
		if o.ID == id {
			return &o, nil
		}
	}
	typ, _, ok := strings.Cut(id, "--")
	if !ok || len(id) > maxObjectID || !slices.Contains(s.m.IndicatorTypes(), typ) {
		return nil, notFound
	}
	select {
	case s.scans <- struct{}{}:
		defer func() { <-s.scans }()
	default:
		return nil, &taxiiError{http.StatusTooManyRequests, "Too many requests", fmt.Sprintf(
			"%d lookups of objects by id are in progress, the most at once: retry after the time in Retry-After", MaxObjectScans)}
	}
	// The few indicators brought back after a revocation first: their
	// ids are of their generation, and they still publish the indicator
	// ids of the generations before, revoked (stix.Superseded). An id of
	// an earlier generation they no longer publish (a relationship's, or
	// past stix.MaxSuperseded) is found, then not matched.
	var found netip.Prefix
	err := s.st.EachRenewed(ctx, c.status, func(p netip.Prefix, gen int64) error {
		for g := gen; g >= max(0, gen-stix.MaxSuperseded); g-- {
			if s.m.ObjectID(typ, p, g) == id {
				found = p
				return errFound
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, err
	}
	if !found.IsValid() {
		err = s.st.EachAddress(ctx, c.status, func(a netip.Addr) bool {
			if s.m.ObjectID(typ, netip.PrefixFrom(a, a.BitLen()), 0) == id {
				found = netip.PrefixFrom(a, a.BitLen())
				return false
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	if !found.IsValid() && typ == "indicator" {
		// A purged indicator's ids, from its tombstone.
		if o, err := s.findPurged(ctx, id); err != nil || o != nil {
			return o, err
		}
	}
	var ind indicator.Indicator
	switch {
	case found.IsValid() && found.IsSingleIP():
		ind, err = s.st.Lookup(ctx, found.Addr())
	case found.IsValid():
		ind, err = s.st.LookupNetwork(ctx, found)
	default:
		ind, err = s.findNetwork(ctx, typ, id)
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.status != "" && ind.Status != c.status) {
		return nil, notFound // changed since the addresses were read
	}
	if err != nil {
		return nil, err
	}
	objs, err := s.m.Objects(&ind)
	if err != nil {
		return nil, err
	}
	for i := range objs {
		if objs[i].ID == id {
			return &objs[i], nil
		}
	}
	return nil, notFound
}

// findPurged returns the object with the id among the purged indicators
// (store.Store.EachTombstone), or nil: it hashes each tombstone's address
// into the indicator ids of its generation and of the earlier ones it
// publishes (stix.Purged).
func (s *Server) findPurged(ctx context.Context, id string) (*Object, error) {
	var objs []Object
	err := s.st.EachTombstone(ctx, func(ind *indicator.Indicator) error {
		p := ind.Prefix
		if !p.IsValid() {
			p = netip.PrefixFrom(ind.Addr, ind.Addr.BitLen())
		}
		for g := ind.Generation; g >= max(0, ind.Generation-stix.MaxSuperseded); g-- {
			if s.m.ObjectID("indicator", p, g) == id {
				objs = s.m.Purged(ind)
				return errFound
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, err
	}
	for i := range objs {
		if objs[i].ID == id {
			return &objs[i], nil
		}
	}
	return nil, nil
}

// findNetwork returns the network indicator one of whose objects has the
// id, or an error wrapping store.ErrNotFound.
func (s *Server) findNetwork(ctx context.Context, typ, id string) (indicator.Indicator, error) {
	var found netip.Prefix
	err := s.st.EachNetwork(ctx, func(p netip.Prefix) error {
		if s.m.ObjectID(typ, p, 0) == id {
			found = p
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return indicator.Indicator{}, err
	}
	if !found.IsValid() {
		return indicator.Indicator{}, store.ErrNotFound
	}
	return s.st.LookupNetwork(ctx, found)
}

// errFound stops a scan that found what it looked for.
var errFound = errors.New("found")

// maxObjectID bounds an object id: a type name and a UUID.
const maxObjectID = 250

func (s *Server) object(w http.ResponseWriter, r *http.Request) error {
	c, err := findCollection(r)
	if err != nil {
		return err
	}
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	o, err := s.find(r.Context(), c, r.PathValue("object"))
	if err != nil {
		return err
	}
	if !q.matches(&Object{ID: o.ID, Type: o.Type, Version: o.Version}) {
		return writeEnvelope(w, nil, position{}, false)
	}
	return writeEnvelope(w, []Object{*o}, position{}, false)
}

func (s *Server) versions(w http.ResponseWriter, r *http.Request) error {
	c, err := findCollection(r)
	if err != nil {
		return err
	}
	o, err := s.find(r.Context(), c, r.PathValue("object"))
	if err != nil {
		return err
	}
	w.Header().Set("X-TAXII-Date-Added-First", stamp(o.DateAdded))
	w.Header().Set("X-TAXII-Date-Added-Last", stamp(o.DateAdded))
	writeTAXII(w, http.StatusOK, map[string]any{"more": false, "versions": []string{stamp(o.Version)}})
	return nil
}
