package api

import (
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/feed"
	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/store"
	"forewarn/internal/view"
)

// The API's JSON shapes are its own types, mapped field by field from the
// store's and the pipeline's: clients parse them, so a change inside
// forewarn must not move a field. testdata/*.golden pins them.

// Run is a run as GET /runs and /runs/{id} show it: the activity record,
// plus live progress while it runs in this process.
type Run struct {
	ID               int64        `json:"id"`
	Feed             string       `json:"feed"`
	Trigger          string       `json:"trigger"`
	Status           string       `json:"status"`
	DryRun           bool         `json:"dry_run"`
	Dataset          string       `json:"dataset"`
	StartedAt        time.Time    `json:"started_at"`
	FinishedAt       *time.Time   `json:"finished_at,omitempty"`
	Since            *time.Time   `json:"since,omitempty"`
	Until            *time.Time   `json:"until,omitempty"`
	HTTPStatus       int          `json:"http_status"`
	BytesDownloaded  int64        `json:"bytes_downloaded"`
	RowsRead         int64        `json:"rows_read"`
	RowsKept         int64        `json:"rows_kept"`
	Dropped          Dropped      `json:"dropped"`
	KeptByImportance ByImportance `json:"kept_by_importance"`
	RowsAllowlisted  int64        `json:"rows_allowlisted"`
	Warnings         int64        `json:"warnings"`

	IndicatorsCreated   int64 `json:"indicators_created"`
	IndicatorsUpdated   int64 `json:"indicators_updated"`
	IndicatorsUnchanged int64 `json:"indicators_unchanged"`
	AttributesCreated   int64 `json:"attributes_created"`
	AttributesUpdated   int64 `json:"attributes_updated"`
	IndicatorsExpired   int64 `json:"indicators_expired"`
	// IndicatorsDelisted counts the memberships a list feed's run ended.
	IndicatorsDelisted int64 `json:"indicators_delisted"`

	Error    string    `json:"error,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Progress *Progress `json:"progress,omitempty"`
}

// Dropped counts the rows a run did not ingest, by reason.
type Dropped struct {
	Invalid           int64 `json:"invalid"`
	BelowThreshold    int64 `json:"below_threshold"`
	CategoryNotListed int64 `json:"category_not_listed"`
	OutsideWindow     int64 `json:"outside_window"`
}

// ByImportance counts a run's kept rows by normalized importance.
type ByImportance struct {
	High   int64 `json:"high"`
	Medium int64 `json:"medium"`
	Low    int64 `json:"low"`
	None   int64 `json:"none"`
}

// Problem is a rejected row or a dropped attribute of a run.
type Problem struct {
	Line    int64  `json:"line"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Progress is what a run in this process has done so far.
type Progress struct {
	Phase      string `json:"phase"`
	Bytes      int64  `json:"bytes"`
	TotalBytes int64  `json:"total_bytes"`
	Rows       int64  `json:"rows"`
	Kept       int64  `json:"kept"`
	Merged     int64  `json:"merged"`
	// While the download retries: failed tries of tries, the last
	// error (never the token) and when the next try starts.
	FailedTries int64      `json:"failed_tries,omitempty"`
	Tries       int64      `json:"tries,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	NextTry     *time.Time `json:"next_try,omitempty"`
}

func runJSON(r activity.Run, p *feed.Snapshot) Run {
	out := Run{ID: r.ID, Feed: r.Feed, Trigger: r.Trigger, Status: string(r.Status), DryRun: r.DryRun, Dataset: r.Dataset,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Since: r.Since, Until: r.Until,
		HTTPStatus: r.HTTPStatus, BytesDownloaded: r.BytesDownloaded, RowsRead: r.RowsRead, RowsKept: r.RowsKept,
		Dropped: Dropped{Invalid: r.Dropped.Invalid, BelowThreshold: r.Dropped.BelowThreshold,
			CategoryNotListed: r.Dropped.CategoryNotListed, OutsideWindow: r.Dropped.OutsideWindow},
		KeptByImportance: ByImportance{High: r.KeptByImportance.High, Medium: r.KeptByImportance.Medium,
			Low: r.KeptByImportance.Low, None: r.KeptByImportance.None},
		RowsAllowlisted: r.RowsAllowlisted, Warnings: r.Warnings,
		IndicatorsCreated: r.IndicatorsCreated, IndicatorsUpdated: r.IndicatorsUpdated,
		IndicatorsUnchanged: r.IndicatorsUnchanged, AttributesCreated: r.AttributesCreated,
		AttributesUpdated: r.AttributesUpdated, IndicatorsExpired: r.IndicatorsExpired,
		IndicatorsDelisted: r.IndicatorsDelisted,
		Error:              r.Error, Host: r.Host, PID: r.PID}
	for _, pr := range r.Problems {
		out.Problems = append(out.Problems, Problem{Line: pr.Line, Kind: pr.Kind, Message: pr.Message})
	}
	if p != nil {
		out.Progress = &Progress{Phase: p.Phase, Bytes: p.Bytes, TotalBytes: p.TotalBytes, Rows: p.Rows, Kept: p.Kept, Merged: p.Merged,
			FailedTries: p.FailedTries, Tries: p.Tries, LastError: p.LastError}
		if !p.NextTry.IsZero() {
			t := p.NextTry
			out.Progress.NextTry = &t
		}
	}
	return out
}

// Indicator is an indicator as GET /indicators and /indicators/{value}
// show it: internal/view's, which lookup --json prints too.
type (
	Indicator   = view.Indicator
	Sightings   = view.Sightings
	FeedListing = view.FeedListing
	Attribute   = view.Attribute
)

// IndicatorPage is one page of GET /indicators.
type IndicatorPage struct {
	Indicators []Indicator `json:"indicators"`
	Next       string      `json:"next,omitempty"`
}

func indicatorJSON(ind indicator.Indicator) Indicator { return view.IndicatorOf(&ind) }

func indicatorPageJSON(p store.IndicatorPage) IndicatorPage {
	out := IndicatorPage{Next: p.Next}
	if p.Indicators != nil {
		out.Indicators = make([]Indicator, 0, len(p.Indicators))
	}
	for _, ind := range p.Indicators {
		out.Indicators = append(out.Indicators, indicatorJSON(ind))
	}
	return out
}

// LookupResult answers a lookup of one address (GET and POST /lookup):
// internal/view's, which lookup --json prints too.
type (
	LookupResult    = view.LookupResult
	NetblockSummary = view.NetblockSummary
)

func lookupJSON(r lookup.Result) LookupResult { return view.LookupOf(&r) }
