package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/allowlist"
	"forewarn/internal/apikey"
	"forewarn/internal/config"
	"forewarn/internal/export"
	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/runner"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

// What the API reads from the store, by what it serves. Every write goes
// through the use cases (package service).
type (
	feedReader interface {
		FeedConfig(ctx context.Context, name string) (config.Seclytics, store.FeedState, error)
		Runs(ctx context.Context, feed string, limit int) ([]activity.Run, error)
		Stats(ctx context.Context) (store.Stats, error)
		ListFeedConfig(ctx context.Context, name string) (store.ListFeedConfig, bool, error)
		FeedSummary(ctx context.Context, name string) (store.FeedSummary, error)
	}
	runReader interface {
		Run(ctx context.Context, id int64) (activity.Run, error)
		ListRuns(ctx context.Context, q store.RunQuery) (store.RunPage, error)
	}
	indicatorReader interface {
		Lookup(ctx context.Context, addr netip.Addr) (indicator.Indicator, error)
		SearchIndicators(ctx context.Context, q store.IndicatorQuery) (store.IndicatorPage, error)
	}
	keyReader interface {
		AuthenticateAPIKey(ctx context.Context, key string) (store.APIKey, error)
		APIKeys(ctx context.Context) ([]store.APIKey, error)
	}
	healthReader interface {
		SchemaLatest() int
		SchemaVersion(ctx context.Context) (int, error)
	}
	allowlistReader interface {
		AllowlistEntries(ctx context.Context) ([]allowlist.Entry, error)
	}
)

// Store is what the API reads: *store.Store.
type Store interface {
	feedReader
	runReader
	indicatorReader
	keyReader
	healthReader
	allowlistReader
}

// Scheduler is the serve process's schedule of feeds, as the API shows it.
type Scheduler interface {
	NextRun(feed string) (time.Time, bool)
}

// Deps are the parts the API drives.
type Deps struct {
	Store Store
	// Service performs every change; the API renders its results.
	Service   *service.Service
	Runner    *runner.Manager
	Scheduler Scheduler
	Lookup    *lookup.Service
	Log       *slog.Logger
	// ExportSource is what exports read (the store).
	ExportSource export.Source
	// DataVersion identifies the indicators' state for export validators.
	DataVersion func(ctx context.Context) (Version, error)
	// Exports bounds export downloads (zero fields: the defaults).
	Exports ExportLimits
}

// Server serves the API.
type Server struct {
	Deps
	log     *slog.Logger
	exports *exportGate
}

// New returns the API server.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{Deps: d, log: d.Log, exports: newExportGate(d.Exports)}
}

// route is one endpoint: its pattern, the role it needs (empty: none) and
// its handler.
type route struct {
	pattern string
	role    apikey.Role
	handle  func(w http.ResponseWriter, r *http.Request) error
}

// anyKey reports whether the route also accepts the key as a basic-auth
// password or a ?key= parameter: exports, for firewalls that cannot send
// headers.
func (rt route) anyKey() bool { return strings.Contains(rt.pattern, " "+Prefix+"/export/") }

// RequestTimeout bounds every API request's work.
const RequestTimeout = 30 * time.Second

// Prefix is the API's path prefix.
const Prefix = "/api/v1"

func (s *Server) routes() []route {
	read, admin := apikey.RoleRead, apikey.RoleAdmin
	return []route{
		{"GET /healthz", "", s.healthz},
		{"GET /readyz", "", s.readyz},
		{"GET " + Prefix + "/openapi.json", read, s.openapi},
		{"GET " + Prefix + "/version", read, s.version},

		{"GET " + Prefix + "/feeds", read, s.listFeeds},
		{"POST " + Prefix + "/feeds", admin, s.addFeed},
		{"GET " + Prefix + "/feeds/{feed}", read, s.getFeed},
		{"PUT " + Prefix + "/feeds/{feed}", admin, s.putFeed},
		{"DELETE " + Prefix + "/feeds/{feed}", admin, s.deleteFeed},
		{"POST " + Prefix + "/feeds/{feed}/enable", admin, s.enableFeed},
		{"POST " + Prefix + "/feeds/{feed}/disable", admin, s.disableFeed},
		{"POST " + Prefix + "/feeds/{feed}/runs", admin, s.startRun},

		{"GET " + Prefix + "/runs", read, s.listRuns},
		{"GET " + Prefix + "/runs/{id}", read, s.getRun},
		{"POST " + Prefix + "/runs/{id}/cancel", admin, s.cancelRun},

		{"GET " + Prefix + "/indicators", read, s.listIndicators},
		{"GET " + Prefix + "/indicators/{value}", read, s.getIndicator},
		{"PATCH " + Prefix + "/indicators/{value}", admin, s.patchIndicator},

		{"GET " + Prefix + "/lookup", read, s.lookupOne},
		{"POST " + Prefix + "/lookup", read, s.lookupMany},

		{"GET " + Prefix + "/export/{format}", read, s.exportFormat},
		{"GET " + Prefix + "/export/misp-feed/{file}", read, s.exportMISPFile},

		{"GET " + Prefix + "/outputs", admin, s.listOutputs},
		{"POST " + Prefix + "/outputs", admin, s.createOutput},
		{"GET " + Prefix + "/outputs/{name}", admin, s.getOutput},
		{"DELETE " + Prefix + "/outputs/{name}", admin, s.deleteOutput},
		{"POST " + Prefix + "/outputs/{name}/rotate-key", admin, s.rotateOutputKey},

		{"GET " + Prefix + "/apikeys", admin, s.listKeys},
		{"POST " + Prefix + "/apikeys", admin, s.createKey},
		{"DELETE " + Prefix + "/apikeys/{key}", admin, s.revokeKey},

		{"GET " + Prefix + "/allowlist", read, s.listAllowlist},
		{"POST " + Prefix + "/allowlist", admin, s.addAllowlist},
		{"DELETE " + Prefix + "/allowlist", admin, s.removeAllowlist},
		{"DELETE " + Prefix + "/allowlist/{cidr}", admin, s.removeAllowlist},

		{"POST " + Prefix + "/sightings", apikey.RoleSightings, s.recordSightings},

		{"GET " + Prefix + "/reports/lead-time", read, s.leadTimeReport},
	}
}

// Route describes one endpoint, for tests and documentation.
type Route struct {
	Method, Path string
	Role         apikey.Role // empty: no key needed
}

// Routes lists every endpoint.
func (s *Server) Routes() []Route {
	var out []Route
	for _, rt := range s.routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		out = append(out, Route{method, path, rt.role})
	}
	return out
}

// Register adds the API's routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	for _, rt := range s.routes() {
		h := rt.handle
		timeout := RequestTimeout
		if rt.anyKey() {
			timeout = ExportTimeout
		}
		var hh http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w = replyWriter{w, s, r}
			if err := h(w, r); err != nil {
				s.writeError(w, r, err)
			}
		})
		if rt.role != "" {
			hh = s.authenticate(rt.role, rt.anyKey(), hh)
		}
		mux.Handle(rt.pattern, withBudget(timeout, hh))
	}
	// Anything else under the prefix answers in the API's error shape.
	mux.Handle(Prefix+"/", withBudget(RequestTimeout, s.authenticate(apikey.RoleRead, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, notFound("no endpoint %s %s: see %s/openapi.json", r.Method, r.URL.Path, Prefix))
	}))))
}

// withBudget bounds the request's whole work, authentication included: a
// request waiting for the store (a write while a feed run in this process
// holds the store's writer, a key check while the pool is busy) gives up
// with 503 rather than hang.
func withBudget(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type ctxKey struct{}

// Caller returns the API key a request was authenticated with.
func Caller(ctx context.Context) (store.APIKey, bool) {
	k, ok := ctx.Value(ctxKey{}).(store.APIKey)
	return k, ok
}

// authenticate admits requests with a valid key of a role that allows need.
func (s *Server) authenticate(need apikey.Role, anyKey bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearer(r)
		if !ok && anyKey {
			key, ok = firewallKey(r)
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="forewarn"`)
			writeJSON(w, http.StatusUnauthorized, errorBody{Error{Code: CodeUnauthorized,
				Message: "an API key is required: send Authorization: Bearer KEY (create one with forewarn apikey create)"}})
			return
		}
		k, err := s.Store.AuthenticateAPIKey(r.Context(), key)
		if err != nil {
			if errors.Is(err, store.ErrUnauthorized) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="forewarn", error="invalid_token"`)
				writeJSON(w, http.StatusUnauthorized, errorBody{Error{Code: CodeUnauthorized,
					Message: "the API key is unknown or revoked: check it, or create one with forewarn apikey create"}})
				return
			}
			s.writeError(w, r, err)
			return
		}
		if !k.Role.Allows(need) {
			writeJSON(w, http.StatusForbidden, errorBody{Error{Code: CodeForbidden,
				Message: "this needs an API key with the " + string(need) + " role; key " + k.Name + " has the " + string(k.Role) + " role"}})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, k)))
	})
}

// firewallKey reads a key sent as a basic-auth password (any user name)
// or as ?key=. The latter shows in access logs; README says so.
func firewallKey(r *http.Request) (string, bool) {
	if _, pw, ok := r.BasicAuth(); ok && pw != "" {
		return pw, true
	}
	k := r.URL.Query().Get("key")
	return k, k != ""
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	return key, key != ""
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	v, err := s.Store.SchemaVersion(ctx)
	if err != nil || v < s.Store.SchemaLatest() {
		msg := "the store is not ready"
		if err != nil {
			msg += ": " + err.Error()
		}
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error{Code: CodeUnavailable, Message: msg}})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "schema_version": v})
	return nil
}
