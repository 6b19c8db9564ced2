package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"forewarn/internal/activity"
)

// Metrics are forewarn's collectors.
type Metrics struct {
	runs        *prometheus.CounterVec
	rows        *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	duration    *prometheus.HistogramVec
	http        *prometheus.HistogramVec
	indicators  *prometheus.GaugeVec

	outputEntries   *prometheus.GaugeVec
	outputCutOff    *prometheus.GaugeVec
	outputLastFetch *prometheus.GaugeVec
	outputFetches   *prometheus.CounterVec

	mu      sync.Mutex
	known   map[string]bool // statuses with a gauge, so vanished ones drop to 0
	outputs map[string]bool // output names with series
}

// MaxOutputSeries bounds the output names /metrics holds series for (a
// store holds at most 64 profiles; removed ones' series go when the bound
// is reached).
const MaxOutputSeries = 64

// Row outcomes, the values of forewarn_feed_rows_total's outcome label.
const (
	OutcomeKept           = "kept"
	OutcomeInvalid        = "invalid"
	OutcomeBelowThreshold = "below_threshold"
	OutcomeCategory       = "category"
	OutcomeDateWindow     = "date_window"
)

// New creates the metrics and registers them, with the Go runtime and
// process collectors, on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forewarn_feed_runs_total", Help: "Feed runs finished, by final status.",
		}, []string{"feed", "status"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forewarn_feed_rows_total", Help: "Dump rows read by feed runs (not dry runs), by what happened to them.",
		}, []string{"feed", "outcome"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "forewarn_feed_last_success_timestamp_seconds", Help: "When the last successful (or unchanged) run of the feed finished, as a Unix time.",
		}, []string{"feed"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "forewarn_feed_run_duration_seconds", Help: "How long feed runs took.",
			Buckets: []float64{0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"feed"}),
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "forewarn_http_request_duration_seconds", Help: "HTTP request durations, by route pattern, method and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "code"}),
		indicators: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "forewarn_indicators", Help: "Indicators in the store, by status.",
		}, []string{"status"}),
		outputEntries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "forewarn_output_entries", Help: "Entries in the last fetch of each output profile.",
		}, []string{"output"}),
		outputCutOff: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "forewarn_output_cutoff", Help: "The budget's cut-off in the last fetch of each output profile: the rank of the last entry kept (an importance or a confidence, -1 for none; or, ranked by recency, a Unix time). Absent when the budget was not filled.",
		}, []string{"output"}),
		outputLastFetch: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "forewarn_output_last_fetch_timestamp_seconds", Help: "When each output profile was last fetched, as a Unix time.",
		}, []string{"output"}),
		outputFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forewarn_output_fetches_total", Help: "Successful fetches of each output profile by this process.",
		}, []string{"output"}),
		known:   map[string]bool{},
		outputs: map[string]bool{},
	}
	reg.MustRegister(m.runs, m.rows, m.lastSuccess, m.duration, m.http, m.indicators,
		m.outputEntries, m.outputCutOff, m.outputLastFetch, m.outputFetches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// runStatuses are the final statuses a run is counted under.
var runStatuses = []activity.Status{activity.StatusSucceeded, activity.StatusFailed, activity.StatusUnchanged,
	activity.StatusCanceled, activity.StatusAbandoned}

// outcomes are the values of forewarn_feed_rows_total's outcome label.
var outcomes = []string{OutcomeKept, OutcomeInvalid, OutcomeBelowThreshold, OutcomeCategory, OutcomeDateWindow}

// Known creates every labelled counter of the feeds at 0, and the
// indicator gauges of statuses, so that alerts on increase() and absent()
// work before the first run rather than only after it.
func (m *Metrics) Known(feeds []string, statuses []string) {
	for _, f := range feeds {
		for _, s := range runStatuses {
			m.runs.WithLabelValues(f, string(s))
		}
		for _, o := range outcomes {
			m.rows.WithLabelValues(f, o)
		}
		m.duration.WithLabelValues(f)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range statuses {
		if !m.known[s] {
			m.known[s] = true
			m.indicators.WithLabelValues(s).Set(0)
		}
	}
}

// ObserveRun records a finished run.
func (m *Metrics) ObserveRun(r *activity.Run) {
	m.runs.WithLabelValues(r.Feed, string(r.Status)).Inc()
	if r.DryRun {
		return
	}
	for outcome, n := range map[string]int64{
		OutcomeKept: r.RowsKept, OutcomeInvalid: r.Dropped.Invalid, OutcomeBelowThreshold: r.Dropped.BelowThreshold,
		OutcomeCategory: r.Dropped.CategoryNotListed, OutcomeDateWindow: r.Dropped.OutsideWindow,
	} {
		m.rows.WithLabelValues(r.Feed, outcome).Add(float64(n))
	}
	if r.FinishedAt != nil {
		m.duration.WithLabelValues(r.Feed).Observe(r.FinishedAt.Sub(r.StartedAt).Seconds())
		if r.Status == activity.StatusSucceeded || r.Status == activity.StatusUnchanged {
			m.SetLastSuccess(r.Feed, *r.FinishedAt)
		}
	}
}

// SetLastSuccess sets when the feed last ran successfully (at start-up,
// from the activity log).
func (m *Metrics) SetLastSuccess(feed string, t time.Time) {
	m.lastSuccess.WithLabelValues(feed).Set(float64(t.UnixNano()) / 1e9)
}

// SetIndicators sets the indicator counts by status. A status missing from
// counts is set to 0.
func (m *Metrics) SetIndicators(counts map[string]int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for s := range m.known {
		if _, ok := counts[s]; !ok {
			m.indicators.WithLabelValues(s).Set(0)
		}
	}
	for s, n := range counts {
		m.known[s] = true
		m.indicators.WithLabelValues(s).Set(float64(n))
	}
}

// OutputFetched records a fetch of the output profile name: when, how many
// entries (negative: unknown, left as it was) and the cut-off (nil: the
// budget was not filled, or there is none).
func (m *Metrics) OutputFetched(name string, at time.Time, entries int64, cutoff *float64, counted bool) {
	m.mu.Lock()
	if !m.outputs[name] && len(m.outputs) >= MaxOutputSeries {
		m.outputEntries.Reset()
		m.outputCutOff.Reset()
		m.outputLastFetch.Reset()
		m.outputFetches.Reset()
		clear(m.outputs)
	}
	m.outputs[name] = true
	m.mu.Unlock()
	m.outputLastFetch.WithLabelValues(name).Set(float64(at.Unix()))
	if entries >= 0 {
		m.outputEntries.WithLabelValues(name).Set(float64(entries))
		if cutoff != nil {
			m.outputCutOff.WithLabelValues(name).Set(*cutoff)
		} else {
			m.outputCutOff.DeleteLabelValues(name)
		}
	}
	if counted {
		m.outputFetches.WithLabelValues(name).Inc()
	}
}

// Instrument observes every request's duration under the route pattern the
// mux matched (for example "GET /api/v1/indicators/{value}"), the method
// and the status code. Every label comes from a fixed set whatever clients
// send: each distinct value is a series held for the process's life, and
// made-up 60 KB methods once grew serve by hundreds of megabytes.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		// r.Pattern is one of the patterns registered on the mux.
		route := r.Pattern
		if route == "" {
			route = RouteUnmatched
		}
		m.http.WithLabelValues(route, methodLabel(r.Method), codeLabel(sw.code)).Observe(time.Since(start).Seconds())
	})
}

// RouteUnmatched is the route label of requests no pattern matched, and
// LabelOther the method or code label of values outside the known sets.
const (
	RouteUnmatched = "unmatched"
	LabelOther     = "other"
)

// methodLabel is the method if HTTP defines it, else LabelOther.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return LabelOther
}

// codeLabel is the status code if HTTP names it, else LabelOther.
func codeLabel(code int) string {
	if http.StatusText(code) == "" {
		return LabelOther
	}
	return strconv.Itoa(code)
}

// Handler serves the registry in the Prometheus text format.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
