package view

import (
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
)

// Indicator is an indicator as the API and lookup --json show it.
type Indicator struct {
	Type   string `json:"type"`
	Value  string `json:"value"`
	Status string `json:"status"`
	// Sources are the sources that list it, Seclytics first.
	Sources []string `json:"sources"`
	// Attributes are one entry per value: a list attribute is one entry
	// per item. Never null: [] when it carries none.
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

// IndicatorOf is ind's view.
func IndicatorOf(ind *indicator.Indicator) Indicator {
	out := Indicator{Type: ind.Type, Value: ind.Value(), Status: string(ind.Status), Sources: ind.Sources,
		Attributes: make([]Attribute, 0, len(ind.Attributes)), CreatedAt: ind.CreatedAt, UpdatedAt: ind.UpdatedAt,
		ExpiresAt: ind.ExpiresAt, Confidence: ind.Confidence}
	for _, f := range ind.Feeds {
		out.Feeds = append(out.Feeds, FeedListing{Feed: f.Feed, Source: f.Source, Listed: f.Listed, FirstSeen: f.FirstSeen, LastSeen: f.LastSeen})
	}
	if sg := ind.Sightings; sg != nil {
		out.Sightings = &Sightings{Count: sg.Count, FirstSeen: sg.First, LastSeen: sg.Last}
	}
	for _, a := range ind.Attributes {
		// A list is one attribute in the read model and one entry per
		// item here, as forewarn has always shown it.
		a.Value.Texts(func(v string) {
			out.Attributes = append(out.Attributes, Attribute{Name: a.Name, Value: v, Source: a.Source,
				CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt})
		})
	}
	return out
}

// LookupResult answers a lookup of one address.
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

// LookupOf is r's view.
func LookupOf(r *lookup.Result) LookupResult {
	out := LookupResult{IP: r.IP.String(), Verdict: r.Verdict, Netblocks: make([]NetblockSummary, 0, len(r.Netblocks))}
	if r.Matched.IsValid() {
		out.Matched = r.Matched.String()
	}
	if r.Indicator != nil {
		ind := IndicatorOf(r.Indicator)
		out.Indicator = &ind
	}
	for _, n := range r.Netblocks {
		out.Netblocks = append(out.Netblocks, NetblockSummary{Netblock: n.Netblock.String(), Listed: n.Listed,
			MaxImportance: n.MaxImportance, Categories: n.Categories, Clusters: n.Clusters})
	}
	return out
}
