package export

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/store"
)

// Source yields indicators in address order (IPv4 first, numerically),
// streaming.
type Source interface {
	EachIndicator(ctx context.Context, fn func(*indicator.Indicator) error) error
}

// NetblockSource is a Source that also knows the last predicted netblock of
// every address, even when Predicted Netblock is not a kept attribute
// (*store.Store is one). The edl format's Netblocks option uses it when the
// source offers it, and the Predicted Netblock attribute otherwise.
type NetblockSource interface {
	EachIndicatorNetblock(ctx context.Context, fn func(*indicator.Indicator, netip.Prefix) error) error
}

// Format is an export format.
type Format string

// The formats.
const (
	JSONL         Format = "jsonl"
	CSV           Format = "csv"
	STIX          Format = "stix"
	EDL           Format = "edl"
	SuricataIPRep Format = "suricata-iprep"
	ZeekIntel     Format = "zeek-intel"
	CrowdSec      Format = "crowdsec"
	ECS           Format = "ecs"
	MISPFeed      Format = "misp-feed"
)

// Formats lists every format, in the order help texts show them.
var Formats = []Format{JSONL, CSV, STIX, EDL, SuricataIPRep, ZeekIntel, CrowdSec, ECS, MISPFeed}

// ErrUnknownFormat is wrapped by ParseFormat for a name it does not know.
var ErrUnknownFormat = errors.New("unknown export format")

// ErrDirectory is returned when a directory format (misp-feed) is asked
// for as one stream.
var ErrDirectory = errors.New("misp-feed is a directory of files, not one stream: write it with --dir DIR (WriteMISPFeed), or serve it as an output profile")

// ErrBadFilter is wrapped when a filter or option is invalid.
var ErrBadFilter = errors.New("bad export filter")

// ParseFormat returns the format named s (case-insensitive).
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if strings.EqualFold(strings.TrimSpace(s), string(f)) {
			return f, nil
		}
	}
	return "", fmt.Errorf("%w %q: choose one of %s", ErrUnknownFormat, s, FormatNames())
}

// FormatNames is the formats joined with ", ", for help texts and errors.
func FormatNames() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// ContentType is the media type an HTTP response in format f carries.
func ContentType(f Format) string {
	switch f {
	case JSONL:
		return "application/jsonl; charset=utf-8"
	case CSV:
		return "text/csv; charset=utf-8"
	case STIX:
		return "application/stix+json;version=2.1"
	case EDL, SuricataIPRep, ZeekIntel:
		return "text/plain; charset=utf-8"
	case CrowdSec:
		return "application/json"
	case ECS:
		return "application/x-ndjson"
	case MISPFeed:
		return "application/json" // each of its files but hashes.csv
	}
	return "application/octet-stream"
}

// Blocklist reports whether f is a format a device blocks or alerts on:
// Whitelisted indicators never appear in one, and neither do indicators
// whose expiry has passed. CrowdSec bans, ECS indicators (matched by
// Elastic's indicator match rules) and MISP feed attributes (to_ids) are
// all acted on.
func (f Format) Blocklist() bool {
	switch f {
	case EDL, SuricataIPRep, ZeekIntel, CrowdSec, ECS, MISPFeed:
		return true
	}
	return false
}

// Networks reports whether f lists network indicators (a list feed's CIDR
// entries, such as Spamhaus DROP's) as networks. ECS does not:
// threat.indicator.ip is an Elasticsearch ip field, which holds one
// address.
func (f Format) Networks() bool { return f != ECS }

// Directory reports whether f is written as a directory of files
// (WriteMISPFeed) rather than one stream.
func (f Format) Directory() bool { return f == MISPFeed }

// AllStatuses selects indicators of every status.
var AllStatuses = []indicator.Status{indicator.StatusActive, indicator.StatusExpired, indicator.StatusWhitelisted, indicator.StatusReview}

// Filter selects the indicators an export writes. The zero value selects
// every Active indicator.
type Filter struct {
	// Statuses keeps indicators with one of these statuses; empty means
	// Active only. Blocklist formats drop Whitelisted whatever it says.
	Statuses []indicator.Status
	// MinImportance keeps indicators whose Importance is at least this;
	// an indicator without an Importance is then left out.
	MinImportance *float64
	// Categories keeps indicators with at least one of these Detected
	// Categories (whole category, case-insensitive).
	Categories []string
	// Sources keeps indicators carrying attributes of one of these sources.
	Sources []string
	// Feed keeps indicators the feed with this id lists now ("seclytics"
	// for Seclytics).
	Feed string
	// Feeds keeps indicators one of these feeds lists now (an output
	// profile's feeds; empty: any).
	Feeds []string
	// MinSources keeps indicators at least this many feeds list now.
	MinSources int
	// MinConfidence keeps indicators whose combined confidence is at
	// least this (0-100); one no source lists is then left out.
	MinConfidence *int
	// UpdatedSince keeps indicators updated at or after it (zero: any).
	UpdatedSince time.Time
	// Rank orders the Max budget: RankImportance ("" too: the highest
	// Importance first, none last), RankConfidence (the highest combined
	// confidence first, none last) or RankRecency (the latest change
	// first). Ties go by address, the higher first, as an output
	// profile's do.
	Rank string
	// Max keeps only the Max best indicators by Rank (0: all). They are
	// written in address order, so that the list a capped device loads
	// changes little from one day to the next. From a store, a budget of
	// Active indicators is read through the ranking index (see
	// RankedSource); otherwise every indicator is offered to a bounded
	// heap.
	Max int
}

// Budget ranks (Filter.Rank): the store's.
const (
	RankImportance = store.RankImportance
	RankConfidence = store.RankConfidence
	RankRecency    = store.RankRecency
)

// rankBy is what the budget ranks by.
func (f *Filter) rankBy() string {
	if f.Rank == "" {
		return RankImportance
	}
	return f.Rank
}

// Options are a Filter and the options some formats take.
type Options struct {
	Filter
	// Aggregate (edl only) writes the minimal set of CIDRs covering the
	// selected addresses (or netblocks) instead of one line each.
	Aggregate bool
	// Netblocks (edl only) writes the distinct predicted netblocks of the
	// selected indicators instead of their addresses.
	Netblocks bool
	// TLP (ecs and misp-feed) is the Traffic Light Protocol marking put on
	// every indicator: clear, green, amber (the default when empty),
	// amber+strict or red.
	TLP string
	// MISPAttribute (misp-feed) is the MISP attribute type of each
	// address: ip-dst (the default when empty: the addresses to block are
	// destinations) or ip-src.
	MISPAttribute string
	// Name (misp-feed) tells apart the events of two feeds served from
	// one store: the events' UUIDs derive from it and the source, and
	// their info names it. Empty for a plain export.
	Name string
	// Now is the clock (time.Now if nil). Blocklist formats leave out
	// indicators whose expiry (ExpiresAt) is at or before Now, even when
	// the expiry job has not marked them Expired yet.
	Now func() time.Time
	// HeldBudget is the largest budget read from a RankedSource whole and
	// held in memory (0: DefaultHeldBudget, none; negative: none).
	HeldBudget int
	// CutOff, when not nil, receives a budget's cut-off read through a
	// RankedSource: the rank of the last indicator kept, as a person
	// reads it, when the budget is full (else it is left alone).
	CutOff *string

	written *int64 // counts the indicators each hands out
}

// Validate names the first invalid field of o for format f.
func (o *Options) Validate(f Format) error {
	for _, s := range o.Statuses {
		if !s.Valid() {
			return fmt.Errorf("%w: status %q: use Active, Expired, Whitelisted or Review", ErrBadFilter, s)
		}
	}
	if o.MinImportance != nil {
		if v := *o.MinImportance; math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: minimum importance %v: give a number from 0 to 100", ErrBadFilter, v)
		}
	}
	if o.MinSources < 0 {
		return fmt.Errorf("%w: minimum sources %d: give a number of feeds, 0 or more", ErrBadFilter, o.MinSources)
	}
	if o.MinConfidence != nil && (*o.MinConfidence < 0 || *o.MinConfidence > 100) {
		return fmt.Errorf("%w: minimum confidence %d: give a number from 0 to 100", ErrBadFilter, *o.MinConfidence)
	}
	if o.Rank != "" && o.Rank != RankImportance && o.Rank != RankConfidence && o.Rank != RankRecency {
		return fmt.Errorf("%w: rank %q: use importance, confidence or recency", ErrBadFilter, o.Rank)
	}
	if o.Max < 0 {
		return fmt.Errorf("%w: max %d: give a positive number, or 0 for no limit", ErrBadFilter, o.Max)
	}
	if (o.Aggregate || o.Netblocks) && f != EDL {
		return fmt.Errorf("%w: aggregate and netblocks apply to the edl format only, not %s", ErrBadFilter, f)
	}
	if o.TLP != "" {
		if f != ECS && f != MISPFeed {
			return fmt.Errorf("%w: tlp applies to the ecs and misp-feed formats only, not %s", ErrBadFilter, f)
		}
		if !slices.Contains(TLPs, strings.ToLower(o.TLP)) {
			return fmt.Errorf("%w: tlp %q: use one of %s", ErrBadFilter, o.TLP, strings.Join(TLPs, ", "))
		}
	}
	if o.MISPAttribute != "" {
		if f != MISPFeed {
			return fmt.Errorf("%w: misp attribute applies to the misp-feed format only, not %s", ErrBadFilter, f)
		}
		if o.MISPAttribute != "ip-dst" && o.MISPAttribute != "ip-src" {
			return fmt.Errorf("%w: misp attribute %q: use ip-dst or ip-src", ErrBadFilter, o.MISPAttribute)
		}
	}
	return nil
}

// TLPs are the Traffic Light Protocol markings the TLP option takes
// (TLP 2.0, plus white, TLP 1.0's name for clear).
var TLPs = []string{"clear", "white", "green", "amber", "amber+strict", "red"}

// tlp is the TLP marking, lower-case; amber by default.
func (o *Options) tlp() string {
	if o.TLP == "" {
		return "amber"
	}
	return strings.ToLower(o.TLP)
}

// now reads the clock.
func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Write writes the indicators of src that o selects to w in format f,
// streaming (see the package comment for the exceptions). The
// suricata-iprep format writes the reputation list; its categories file
// comes from WriteSuricataCategories.
func Write(ctx context.Context, w io.Writer, src Source, f Format, o Options) error {
	_, err := WriteCount(ctx, w, src, f, o)
	return err
}

// WriteCount is Write that also returns how many indicators it wrote (for
// an aggregated list, how many it aggregated).
func WriteCount(ctx context.Context, w io.Writer, src Source, f Format, o Options) (int64, error) {
	f, err := ParseFormat(string(f))
	if err != nil {
		return 0, err
	}
	if err := o.Validate(f); err != nil {
		return 0, err
	}
	var n int64
	o.written = &n
	bw := bufio.NewWriterSize(w, 256<<10)
	switch f {
	case JSONL:
		err = writeJSONL(ctx, bw, src, o)
	case CSV:
		err = writeCSV(ctx, bw, src, o)
	case STIX:
		err = writeSTIX(ctx, bw, src, o)
	case EDL:
		err = writeEDL(ctx, bw, src, o)
	case SuricataIPRep:
		err = writeSuricata(ctx, bw, src, o)
	case ZeekIntel:
		err = writeZeek(ctx, bw, src, o)
	case CrowdSec:
		err = writeCrowdSec(ctx, bw, src, o)
	case ECS:
		err = writeECS(ctx, bw, src, o)
	case MISPFeed:
		err = ErrDirectory
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return n, fmt.Errorf("export %s: %w", f, err)
	}
	return n, nil
}
