package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"forewarn/internal/export"
	"forewarn/internal/indicator"
	"forewarn/internal/store"
)

// Spec is a profile's format and options, stored as JSON. A new option
// (a feed, a minimum confidence, another rank) is a new field here and a
// flag; stored profiles without it keep their meaning.
type Spec struct {
	Format export.Format `json:"format"`
	// Max is the budget: at most Max entries (0: no budget), the best by
	// Rank, written in address order.
	Max int `json:"max,omitempty"`
	// Rank orders the budget: store.RankImportance (the default),
	// store.RankConfidence or store.RankRecency. Ties go by address, so
	// an entry does not flap in and out from one render to the next.
	Rank string `json:"rank,omitempty"`
	// Feeds keeps indicators one of these feeds lists now (their ids,
	// seclytics for Seclytics); empty: any.
	Feeds []string `json:"feeds,omitempty"`
	// MinSources keeps indicators at least this many feeds list now.
	MinSources int `json:"min_sources,omitempty"`
	// MinConfidence keeps indicators whose combined confidence is at
	// least this (0-100); one no source lists is then left out.
	MinConfidence *int `json:"min_confidence,omitempty"`
	// Statuses are the statuses listed; empty means Active. Blocklist
	// formats never list Whitelisted ones.
	Statuses  []indicator.Status `json:"statuses,omitempty"`
	Aggregate bool               `json:"aggregate,omitempty"`
	Netblocks bool               `json:"netblocks,omitempty"`
	// TLP (ecs, misp-feed) and MISPAttribute (misp-feed) as in
	// export.Options.
	TLP           string `json:"tlp,omitempty"`
	MISPAttribute string `json:"misp_attribute,omitempty"`
}

// Ranks are the orders a budget takes.
var Ranks = []string{store.RankImportance, store.RankConfidence, store.RankRecency}

// MaxFeeds is the most feeds a profile names.
const MaxFeeds = 50

// FieldError names the field of a Spec (or a profile) that is invalid.
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate names the first invalid field of s.
func (s *Spec) Validate() error {
	f, err := export.ParseFormat(string(s.Format))
	if err != nil {
		return &FieldError{"format", fmt.Sprintf("%q: choose one of %s", s.Format, export.FormatNames())}
	}
	s.Format = f
	if s.Max < 0 {
		return &FieldError{"max", fmt.Sprintf("%d: give a positive number, or 0 for no budget", s.Max)}
	}
	if s.Rank != "" && !slices.Contains(Ranks, s.Rank) {
		return &FieldError{"rank", fmt.Sprintf("%q: use %s", s.Rank, strings.Join(Ranks, " or "))}
	}
	if s.Rank != "" && s.Max == 0 {
		return &FieldError{"rank", "a rank orders a budget: give max too"}
	}
	if len(s.Feeds) > MaxFeeds {
		return &FieldError{"feeds", fmt.Sprintf("%d feeds: name at most %d", len(s.Feeds), MaxFeeds)}
	}
	for i, f := range s.Feeds {
		if f == "" || len(f) > 64 || strings.ContainsFunc(f, func(r rune) bool { return r <= ' ' || r == ',' || r > '~' }) {
			return &FieldError{"feeds", fmt.Sprintf("%q: give a feed's id (forewarn feed list shows them)", f)}
		}
		if slices.Contains(s.Feeds[:i], f) {
			return &FieldError{"feeds", fmt.Sprintf("%q is named twice", f)}
		}
	}
	if s.MinSources < 0 {
		return &FieldError{"min_sources", fmt.Sprintf("%d: give a number of feeds, 0 or more", s.MinSources)}
	}
	if s.MinConfidence != nil && (*s.MinConfidence < 0 || *s.MinConfidence > 100) {
		return &FieldError{"min_confidence", fmt.Sprintf("%d: give a whole number from 0 to 100", *s.MinConfidence)}
	}
	for _, st := range s.Statuses {
		if !st.Valid() {
			return &FieldError{"status", fmt.Sprintf("%q: use Active, Expired, Whitelisted or Review", st)}
		}
	}
	if err := export.CheckBudgetStatuses(s.Max, s.Statuses); err != nil {
		return &FieldError{"status", err.Error() + ": leave status out, or set it to Active"}
	}
	if (s.Aggregate || s.Netblocks) && f != export.EDL {
		return &FieldError{"aggregate", fmt.Sprintf("aggregate and netblocks apply to the edl format only, not %s", f)}
	}
	if s.TLP != "" && ((f != export.ECS && f != export.MISPFeed) || !slices.Contains(export.TLPs, strings.ToLower(s.TLP))) {
		return &FieldError{"tlp", fmt.Sprintf("%q: the ecs and misp-feed formats take one of %s", s.TLP, strings.Join(export.TLPs, ", "))}
	}
	if s.MISPAttribute != "" && (f != export.MISPFeed || (s.MISPAttribute != "ip-dst" && s.MISPAttribute != "ip-src")) {
		return &FieldError{"misp_attribute", fmt.Sprintf("%q: the misp-feed format takes ip-dst or ip-src", s.MISPAttribute)}
	}
	o := s.exportOptions("")
	if err := o.Validate(f); err != nil { // a rule of the export not checked above
		return &FieldError{"options", err.Error()}
	}
	return nil
}

// rank is the budget's order.
func (s *Spec) rank() string {
	if s.Rank == "" {
		return store.RankImportance
	}
	return s.Rank
}

// exportOptions are the export options of the profile named name, without
// the budget (Render adds it). Its filters are the ones the ranking index
// applies, so a budgeted render reads only what it keeps.
func (s *Spec) exportOptions(name string) export.Options {
	o := export.Options{Aggregate: s.Aggregate, Netblocks: s.Netblocks, TLP: s.TLP, MISPAttribute: s.MISPAttribute, Name: name}
	o.Statuses = s.Statuses
	o.Feeds, o.MinSources, o.MinConfidence = s.Feeds, s.MinSources, s.MinConfidence
	return o
}

// ParseSpec decodes a stored spec strictly: an unknown key is an error.
func ParseSpec(b []byte) (Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("output spec: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return s, errors.New("output spec: trailing data after the JSON object")
	}
	return s, nil
}

// JSON is the spec as stored.
func (s Spec) JSON() string {
	b, _ := json.Marshal(s) // only strings, numbers and booleans
	return string(b)
}
