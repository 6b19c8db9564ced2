package activity

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Status is a run's outcome.
type Status string

// Run statuses.
const (
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusUnchanged Status = "unchanged" // the dump had not changed; nothing was ingested
	StatusAbandoned Status = "abandoned" // the process running it died
	StatusCanceled  Status = "canceled"
)

// Triggers say who started a run.
const (
	TriggerCLI      = "cli"
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
)

// MaxProblems is how many problems a run keeps.
const MaxProblems = 20

// Dropped counts rows a run did not ingest, by reason.
type Dropped struct {
	Invalid           int64 `json:"invalid"`
	BelowThreshold    int64 `json:"below_threshold"`
	CategoryNotListed int64 `json:"category_not_listed"`
	OutsideWindow     int64 `json:"outside_window"`
}

// Total is the number of dropped rows.
func (d Dropped) Total() int64 {
	return d.Invalid + d.BelowThreshold + d.CategoryNotListed + d.OutsideWindow
}

// ByImportance counts kept rows by the normalized importance of their
// score (see indicator.NormalizeImportance); None counts rows without one.
type ByImportance struct {
	High   int64 `json:"high"`
	Medium int64 `json:"medium"`
	Low    int64 `json:"low"`
	None   int64 `json:"none"`
}

// Total is the number of rows counted.
func (c ByImportance) Total() int64 { return c.High + c.Medium + c.Low + c.None }

// Counts are the changes a run made to the store. They are the activity
// log's own, not the merge engine's: the run record is stored and served
// (GET /api/v1/runs), so a field added to the engine's counts must not
// appear here unless it is mapped on purpose.
type Counts struct {
	IndicatorsCreated   int64 `json:"indicators_created"`
	IndicatorsUpdated   int64 `json:"indicators_updated"`
	IndicatorsUnchanged int64 `json:"indicators_unchanged"`
	AttributesCreated   int64 `json:"attributes_created"`
	AttributesUpdated   int64 `json:"attributes_updated"`
	// IndicatorsExpired counts indicators the run marked Expired: those
	// merged with an expiry already past, and those aged out after the
	// merge.
	IndicatorsExpired int64 `json:"indicators_expired"`
}

// Problem is a rejected row or a dropped attribute, as the activity log
// keeps it. The store keeps problems as this type's JSON, so its tags are
// a storage format too.
type Problem struct {
	Line    int64  `json:"line"`
	Kind    string `json:"kind"` // ProblemInvalid or ProblemWarning
	Message string `json:"message"`
}

// Problem kinds.
const (
	ProblemInvalid = "invalid"
	ProblemWarning = "warning"
)

func (p Problem) String() string { return fmt.Sprintf("line %d: %s: %s", p.Line, p.Kind, p.Message) }

// Run is one entry of the activity log.
type Run struct {
	ID         int64      `json:"id"`
	Feed       string     `json:"feed"`
	Trigger    string     `json:"trigger"`
	Status     Status     `json:"status"`
	DryRun     bool       `json:"dry_run"`
	Dataset    string     `json:"dataset"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Since and Until bound the date window; nil means unbounded. Until is
	// set even when the date filter is off: it becomes the next watermark.
	Since *time.Time `json:"since,omitempty"`
	Until *time.Time `json:"until,omitempty"`

	HTTPStatus      int     `json:"http_status"`
	BytesDownloaded int64   `json:"bytes_downloaded"`
	RowsRead        int64   `json:"rows_read"`
	RowsKept        int64   `json:"rows_kept"`
	Dropped         Dropped `json:"dropped"`
	// KeptByImportance splits RowsKept by normalized importance: what a
	// dry run would ingest, at each level.
	KeptByImportance ByImportance `json:"kept_by_importance"`
	// RowsAllowlisted counts the kept rows whose address is allow-listed:
	// they are ingested, as Whitelisted.
	RowsAllowlisted int64 `json:"rows_allowlisted"`
	Warnings        int64 `json:"warnings"`
	Counts
	// IndicatorsDelisted counts the memberships a list feed's run ended:
	// entries its newest list no longer has (snapshot mode) or not given
	// within its age_out. Seclytics never delists.
	IndicatorsDelisted int64 `json:"indicators_delisted"`

	Error    string    `json:"error,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
}

// MaxProblemMessage caps the bytes of one kept problem's message: a
// hostile row (a deeply nested NDJSON value) made parser messages of 14 KB
// and run records of hundreds of KB, which every activity page then read.
const MaxProblemMessage = 512

// AddProblem keeps p if fewer than MaxProblems are kept, its message cut to
// MaxProblemMessage bytes.
func (r *Run) AddProblem(p Problem) {
	if len(r.Problems) < MaxProblems {
		p.Message = truncate(p.Message, MaxProblemMessage)
		r.Problems = append(r.Problems, p)
	}
}

// truncate cuts s to at most max bytes on a UTF-8 boundary, marking the cut
// with an ellipsis (counted in max).
func truncate(s string, max int) string {
	const mark = "…"
	if len(s) <= max {
		return s
	}
	cut := max - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// Duration is how long the run took, or has taken so far.
func (r *Run) Duration() time.Duration {
	end := time.Now()
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return end.Sub(r.StartedAt)
}

// Summary is the one-screen text the CLI prints at the end of a run.
func (r *Run) Summary() string {
	var b strings.Builder
	mode := ""
	if r.DryRun {
		mode = " (dry run: nothing written)"
	}
	fmt.Fprintf(&b, "run %d of %s: %s%s\n", r.ID, r.Feed, r.Status, mode)
	fmt.Fprintf(&b, "  trigger      %s, dataset %s\n", r.Trigger, r.Dataset)
	fmt.Fprintf(&b, "  started      %s, took %s\n", r.StartedAt.UTC().Format(time.RFC3339), r.Duration().Round(time.Millisecond))
	fmt.Fprintf(&b, "  window       %s\n", r.Window())
	fmt.Fprintf(&b, "  download     HTTP %d, %s\n", r.HTTPStatus, HumanBytes(r.BytesDownloaded))
	fmt.Fprintf(&b, "  rows         %d read, %d kept, %d dropped (%d invalid, %d below threshold, %d category not listed, %d outside the date window), %d warnings\n",
		r.RowsRead, r.RowsKept, r.Dropped.Total(), r.Dropped.Invalid, r.Dropped.BelowThreshold, r.Dropped.CategoryNotListed, r.Dropped.OutsideWindow, r.Warnings)
	fmt.Fprintf(&b, "  importance   kept %d high, %d medium, %d low, %d without importance\n",
		r.KeptByImportance.High, r.KeptByImportance.Medium, r.KeptByImportance.Low, r.KeptByImportance.None)
	fmt.Fprintf(&b, "  indicators   %d created, %d updated, %d unchanged, %d expired\n", r.IndicatorsCreated, r.IndicatorsUpdated, r.IndicatorsUnchanged, r.IndicatorsExpired)
	fmt.Fprintf(&b, "  allow-list   %d kept rows allow-listed (ingested Whitelisted)\n", r.RowsAllowlisted)
	fmt.Fprintf(&b, "  attributes   %d created, %d updated\n", r.AttributesCreated, r.AttributesUpdated)
	if secs := r.Duration().Seconds(); secs > 0 && r.RowsRead > 0 {
		fmt.Fprintf(&b, "  throughput   %.0f rows/s\n", float64(r.RowsRead)/secs)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "  error        %s\n", r.Error)
	}
	if len(r.Problems) > 0 {
		fmt.Fprintf(&b, "  first problems:\n")
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "    %s\n", p)
		}
	}
	return b.String()
}

// Window formats the date window.
func (r *Run) Window() string {
	f := func(t *time.Time, open string) string {
		if t == nil {
			return open
		}
		return t.UTC().Format(time.RFC3339)
	}
	return "[" + f(r.Since, "-∞") + ", " + f(r.Until, "+∞") + ")"
}

// HumanBytes formats a byte count with a binary unit.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
