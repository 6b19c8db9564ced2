package indicator

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Indicator types.
const (
	TypeIPv4 = "IP Address"
	TypeIPv6 = "IPv6 Address"
	// TypeCIDR is a network a list feed lists as a whole (Spamhaus DROP,
	// DShield, FireHOL netsets).
	TypeCIDR = "CIDR"
)

// TypeOf returns the indicator type of an address.
func TypeOf(a netip.Addr) string {
	if a.Unmap().Is4() {
		return TypeIPv4
	}
	return TypeIPv6
}

// Status is the lifecycle state of an indicator.
type Status string

// Statuses. Whitelisted and Review are set by a person (or the allow-list)
// and survive ingestion; Expired becomes Active again when a feed sees the
// indicator with a sighting recent enough that its new expiry lies ahead
// (see merge.ApplyLifecycle).
const (
	StatusActive      Status = "Active"
	StatusExpired     Status = "Expired"
	StatusWhitelisted Status = "Whitelisted"
	StatusReview      Status = "Review"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusActive, StatusExpired, StatusWhitelisted, StatusReview:
		return true
	}
	return false
}

// AfterSighting is the status an indicator takes when a feed run sees it.
func (s Status) AfterSighting() Status {
	switch s {
	case StatusWhitelisted, StatusReview:
		return s
	}
	return StatusActive
}

// SourceSeclytics is the source name of the Seclytics Predictions feed.
const SourceSeclytics = "Seclytics"

// Attribute names, exactly as the guide's mapping table spells them.
const (
	AttrPredictedAt          = "Predicted At"
	AttrPredictedNetblock    = "Predicted Netblock"
	AttrPredictedCategory    = "Predicted Category"
	AttrCluster              = "Cluster"
	AttrDetectedBy           = "Detected By"
	AttrDetectedIdentifiers  = "Detected Identifiers"
	AttrDetectedCategories   = "Detected Categories"
	AttrDetectedAt           = "Detected At"
	AttrLastSeenAt           = "Last Seen At"
	AttrImportance           = "Importance"
	AttrNormalizedImportance = "Normalized Importance"
)

// Importance bands of the guide: High 70+, Medium 40-69, Low 0-39.
const (
	High   = "High"
	Medium = "Medium"
	Low    = "Low"
)

// NormalizeImportance maps a score to its friendly name. Scores between the
// guide's integer bands (69.5) fall in the lower band: only 70 and above is
// High, as Seclytics defines it.
func NormalizeImportance(score float64) string {
	switch {
	case score >= 70:
		return High
	case score >= 40:
		return Medium
	default:
		return Low
	}
}

// Attribute is one named value an indicator carries from one source. It
// is the read model, not a wire shape: the API, exports, STIX, UI and CLI
// each render it with their own types.
type Attribute struct {
	Name      string
	Value     Value
	Source    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Indicator is an IP address, or a network a list feed lists, with
// everything known about it.
type Indicator struct {
	Type string
	// Addr is the address; for a network, its first address.
	Addr netip.Addr
	// Prefix is the network of a network indicator (Type TypeCIDR); the
	// zero value for an address.
	Prefix     netip.Prefix
	Status     Status
	Sources    []string
	Attributes []Attribute
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// ExpiresAt is when the indicator ages out (nil: never, or not yet
	// computed by a store without an expiry policy).
	ExpiresAt *time.Time
	// Sightings says how often the owner's own logs showed the address;
	// nil when they never did.
	Sightings *Sightings
	// Confidence is the combined confidence (0-100) of the sources that
	// list it, a noisy-OR of theirs; nil when none does.
	Confidence *int
	// Feeds are the feeds that list it or did, one entry per feed, in
	// feed order. Reads of many indicators give only the listing feeds
	// without dates; a lookup of one gives every feed with its dates.
	Feeds []Listing
	// Generation counts the times the indicator left a revoked status
	// (Expired, Whitelisted) for a live one (Active, Review). STIX 2.1
	// forbids un-revoking an object, so each generation is published under
	// its own STIX id; 0 for an indicator never brought back.
	Generation int64
	// RenewedAt is when it last left a revoked status for a live one (its
	// UpdatedAt then): zero at generation 0. The revoked versions of its
	// earlier generations' STIX indicators carry it as their modified.
	RenewedAt time.Time
}

// Sightings count the times an indicator was seen in the owner's logs
// (forewarn match --record, or a SIEM through the API).
type Sightings struct {
	Count       int64
	First, Last time.Time
}

// Listing is one feed's listing of an indicator.
type Listing struct {
	Feed   string // the feed's id
	Source string // its source name
	Listed bool
	// FirstSeen and LastSeen are the feed's own dates; nil when it has
	// none (or the read did not ask for them).
	FirstSeen, LastSeen *time.Time
}

// ListedBy reports whether the feed with id feed lists the indicator now.
func (ind *Indicator) ListedBy(feed string) bool {
	for _, l := range ind.Feeds {
		if l.Feed == feed && l.Listed {
			return true
		}
	}
	return false
}

// ListingSources counts the feeds that list the indicator now.
func (ind *Indicator) ListingSources() int {
	n := 0
	for _, l := range ind.Feeds {
		if l.Listed {
			n++
		}
	}
	return n
}

// Value is the indicator's value as written: the address, or the network.
func (ind *Indicator) Value() string {
	if ind.Prefix.IsValid() {
		return ind.Prefix.String()
	}
	return ind.Addr.String()
}

// Attr returns the value of the first attribute named name; its Kind is
// KindNone when the indicator has none.
func (ind *Indicator) Attr(name string) Value {
	for i := range ind.Attributes {
		if ind.Attributes[i].Name == name {
			return ind.Attributes[i].Value
		}
	}
	return Value{}
}

// ErrNoAddress means an indicator without a valid address reached a
// reader; the store never hands one out.
var ErrNoAddress = errors.New("indicator without a valid IP address")

// ErrWrongKind means an attribute holds a value of another kind than its
// reader expects: a feed or source that does not write what its
// definition declares.
var ErrWrongKind = errors.New("attribute value of the wrong kind")

// Want returns the value of the attribute name when it is of kind want. A
// missing attribute is no error: its value has KindNone. One of another
// kind is an error wrapping ErrWrongKind that names the address, the
// attribute and both kinds, so that no reader has to choose between
// guessing and dropping it.
func (ind *Indicator) Want(name string, want Kind) (Value, error) {
	v := ind.Attr(name)
	if v.Kind != KindNone && v.Kind != want {
		return Value{}, fmt.Errorf("%s: attribute %s is a %s value, want %s: %w", ind.Addr, name, v.Kind, want, ErrWrongKind)
	}
	return v, nil
}

// The shortest prefix lengths a predicted netblock may have, whatever
// max_netblock says: no allocation to one network is wider. Lookups and
// exports ignore a wider netblock, which a store may hold from before
// netblocks were checked at ingest (a 0.0.0.0/0 put every address in a
// predicted netblock).
const (
	MinNetblockBits4 = 8
	MinNetblockBits6 = 16
)

// NetblockTooWide reports whether p is wider than MinNetblockBits4 (IPv4)
// or MinNetblockBits6 (IPv6), or invalid.
func NetblockTooWide(p netip.Prefix) bool {
	if !p.IsValid() {
		return true
	}
	if p.Addr().Is4() {
		return p.Bits() < MinNetblockBits4
	}
	return p.Bits() < MinNetblockBits6
}

// TimeFormat is how forewarn writes every timestamp: RFC 3339 in UTC.
const TimeFormat = "2006-01-02T15:04:05Z"

// FormatTime formats a Unix time in seconds as RFC 3339 UTC, clamped as
// Time clamps it.
func FormatTime(unix int64) string {
	return Time(unix).Format(TimeFormat)
}

// The range of times RFC 3339, JSON and STIX can write: years 0 to 9999.
const (
	MinUnix = -62167219200 // 0000-01-01T00:00:00Z
	MaxUnix = 253402300799 // 9999-12-31T23:59:59Z
)

// Time converts a Unix time in seconds to UTC, clamped to [MinUnix,
// MaxUnix]. Ingest keeps dates within 1970 and a year ahead, but a
// computed time (an expiry far ahead) or a row stored before that rule
// could lie outside, and one such time made whole JSON replies fail.
func Time(unix int64) time.Time {
	return time.Unix(max(MinUnix, min(unix, MaxUnix)), 0).UTC()
}
