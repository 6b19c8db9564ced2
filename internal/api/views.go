package api

import (
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/feed"
	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/store"
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
// show it.
type Indicator struct {
	Type       string      `json:"type"`
	Value      string      `json:"value"`
	Status     string      `json:"status"`
	Sources    []string    `json:"sources"`
	Attributes []Attribute `json:"attributes"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
	ExpiresAt  *time.Time  `json:"expires_at,omitempty"`
	// Sightings is absent until the address is seen in the owner's logs.
	Sightings *Sightings `json:"sightings,omitempty"`
	// Confidence is the combined confidence (0-100) of the sources that
	// list it; absent when none does.
	Confidence *int `json:"confidence,omitempty"`
	// Feeds are the feeds that list it or did, one per feed.
	Feeds []FeedListing `json:"feeds,omitempty"`
}

// Sightings count the times an indicator was seen in the owner's logs.
type Sightings struct {
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// FeedListing is one feed's listing of an indicator.
type FeedListing struct {
	Feed      string     `json:"feed"`
	Source    string     `json:"source"`
	Listed    bool       `json:"listed"`
	FirstSeen *time.Time `json:"first_seen"`
	LastSeen  *time.Time `json:"last_seen"`
}

// Attribute is one named value an indicator carries from one source.
type Attribute struct {
	Name      string    `json:"name"`
	Value     string    `json:"value"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// IndicatorPage is one page of GET /indicators.
type IndicatorPage struct {
	Indicators []Indicator `json:"indicators"`
	Next       string      `json:"next,omitempty"`
}

func indicatorJSON(ind indicator.Indicator) Indicator {
	out := Indicator{Type: ind.Type, Value: ind.Value(), Status: string(ind.Status), Sources: ind.Sources,
		CreatedAt: ind.CreatedAt, UpdatedAt: ind.UpdatedAt, ExpiresAt: ind.ExpiresAt, Confidence: ind.Confidence}
	for _, f := range ind.Feeds {
		out.Feeds = append(out.Feeds, FeedListing{Feed: f.Feed, Source: f.Source, Listed: f.Listed, FirstSeen: f.FirstSeen, LastSeen: f.LastSeen})
	}
	if sg := ind.Sightings; sg != nil {
		out.Sightings = &Sightings{Count: sg.Count, FirstSeen: sg.First, LastSeen: sg.Last}
	}
	// An empty list stays a list ([]) and a missing one null, as before
	// these types existed.
	if ind.Attributes != nil {
		out.Attributes = make([]Attribute, 0, len(ind.Attributes))
	}
	for _, a := range ind.Attributes {
		// A list is one attribute in the read model and one entry per
		// item here, as the API has always shown it.
		a.Value.Texts(func(v string) {
			out.Attributes = append(out.Attributes, Attribute{Name: a.Name, Value: v, Source: a.Source,
				CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt})
		})
	}
	return out
}

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

// LookupResult answers a lookup of one address (GET and POST /lookup).
type LookupResult struct {
	IP      string `json:"ip"`
	Verdict string `json:"verdict"`
	// Matched is the listed network that contains the address, when the
	// address is listed through it.
	Matched   string     `json:"matched,omitempty"`
	Indicator *Indicator `json:"indicator,omitempty"`
	// Netblocks is empty, never null, when no stored netblock contains
	// the address.
	Netblocks []NetblockSummary `json:"netblocks"`
}

// NetblockSummary is what the store holds about a predicted netblock.
type NetblockSummary struct {
	Netblock      string   `json:"netblock"`
	Listed        int      `json:"listed"`
	MaxImportance *float64 `json:"max_importance"`
	Categories    []string `json:"categories"`
	Clusters      []string `json:"clusters"`
}

func lookupJSON(r lookup.Result) LookupResult {
	out := LookupResult{IP: r.IP.String(), Verdict: r.Verdict, Netblocks: make([]NetblockSummary, 0, len(r.Netblocks))}
	if r.Matched.IsValid() {
		out.Matched = r.Matched.String()
	}
	if r.Indicator != nil {
		ind := indicatorJSON(*r.Indicator)
		out.Indicator = &ind
	}
	for _, n := range r.Netblocks {
		out.Netblocks = append(out.Netblocks, NetblockSummary{Netblock: n.Netblock.String(), Listed: n.Listed,
			MaxImportance: n.MaxImportance, Categories: n.Categories, Clusters: n.Clusters})
	}
	return out
}
