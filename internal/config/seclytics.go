package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"forewarn/internal/indicator"
	"forewarn/internal/secret"
)

// Datasets offered by Seclytics.
const (
	DatasetA = "A" // all predictions
	DatasetB = "B" // predictions with a score of 70 or higher
)

// DefaultBaseURL is Seclytics' API.
const DefaultBaseURL = "https://api.seclytics.com"

// ContextNames are the pieces of context a user can select, in the guide's
// order. Cluster is in the guide's mapping table but not in its selection
// list; forewarn makes it selectable.
var ContextNames = []string{
	indicator.AttrImportance,
	indicator.AttrDetectedIdentifiers,
	indicator.AttrDetectedCategories,
	indicator.AttrDetectedBy,
	indicator.AttrDetectedAt,
	indicator.AttrLastSeenAt,
	indicator.AttrPredictedAt,
	indicator.AttrPredictedNetblock,
	indicator.AttrPredictedCategory,
	indicator.AttrCluster,
}

// Seclytics is the configuration of the Seclytics Predictions feed.
type Seclytics struct {
	// Token is the Seclytics access token. It is stored apart from the rest
	// and never encoded with it.
	Token secret.String `json:"-"`

	Dataset      string   `json:"dataset"`
	Threshold    float64  `json:"threshold"`
	Normalize    bool     `json:"normalize"`
	FilterByDate bool     `json:"filter_by_date"`
	Categories   []string `json:"categories"`
	Context      []string `json:"context"`
	// Frequency is how often `forewarn serve` runs the feed: an interval
	// ("24h", "6h30m") or a cron expression ("0 3 * * *", "@daily").
	Frequency string `json:"frequency"`
	// Overlap is subtracted from the last successful run's end to get the
	// next run's start, because Seclytics dates are day-granular.
	Overlap Duration `json:"overlap"`
	// AgeOut is how long an indicator stays Active after its Last Seen At
	// (else after the last run that saw it); 0 ("never") keeps it Active.
	AgeOut AgeOut `json:"age_out"`
	// AllowlistSpecialRanges ingests addresses in the IANA special-purpose
	// ranges (private, loopback, documentation, ...) as Whitelisted.
	AllowlistSpecialRanges bool `json:"allowlist_special_ranges"`
	// SightingExtends is how long a sighting in the owner's own logs
	// (forewarn match --record, POST /api/v1/sightings) keeps an
	// indicator Active after it, past age_out; 0 ("off") records
	// sightings without extending expiry.
	SightingExtends SightingExtends `json:"sighting_extends"`

	BaseURL         string   `json:"base_url"`
	Tries           int      `json:"tries"`
	ConnectTimeout  Duration `json:"connect_timeout"`
	IdleTimeout     Duration `json:"idle_timeout"`
	MaxCompressed   Size     `json:"max_compressed"`
	MaxDecompressed Size     `json:"max_decompressed"`
	MaxLine         Size     `json:"max_line"`
	// MaxNetblock is the widest predicted netblock a run keeps; a wider
	// one (0.0.0.0/0 would make a blocklist of the whole Internet) is
	// dropped with a warning.
	MaxNetblock MaxNetblock `json:"max_netblock"`
}

// Default returns the guide's defaults plus forewarn's limits.
func Default() Seclytics {
	return Seclytics{
		Dataset:    DatasetA,
		Threshold:  70,
		Categories: []string{"malicious", "phishing", "botnet", "backscatter"},
		Context: []string{
			indicator.AttrImportance, indicator.AttrDetectedIdentifiers, indicator.AttrDetectedCategories,
			indicator.AttrLastSeenAt, indicator.AttrCluster,
		},
		Frequency:              DefaultFrequency,
		Overlap:                Duration(48 * time.Hour),
		AgeOut:                 DefaultAgeOut,
		AllowlistSpecialRanges: true,
		SightingExtends:        DefaultSightingExtends,
		BaseURL:                DefaultBaseURL,
		Tries:                  5,
		ConnectTimeout:         Duration(30 * time.Second),
		IdleTimeout:            Duration(60 * time.Second),
		MaxCompressed:          4 << 30,
		MaxDecompressed:        32 << 30,
		MaxLine:                1 << 20,
		MaxNetblock:            DefaultMaxNetblock,
	}
}

// DefaultMaxNetblock is the default max_netblock: /16 for IPv4, /32 for
// IPv6 (a typical allocation to one network).
var DefaultMaxNetblock = MaxNetblock{IPv4: 16, IPv6: 32}

// DefaultAgeOut is the default age_out: 90 days.
const DefaultAgeOut = AgeOut(90 * 24 * time.Hour)

// DefaultSightingExtends is the default sighting_extends: 30 days.
const DefaultSightingExtends = SightingExtends(30 * 24 * time.Hour)

// The bounds of sighting_extends other than off: an hour (as age_out) to
// ten years.
const (
	MinSightingExtends = SightingExtends(time.Hour)
	MaxSightingExtends = SightingExtends(10 * 365 * 24 * time.Hour)
)

// MinAgeOut is the shortest age_out other than never: Seclytics dates are
// day-granular, so anything shorter than an hour expires rows at random.
const MinAgeOut = AgeOut(time.Hour)

// DefaultFrequency is the default run frequency.
const DefaultFrequency = "24h"

// MinInterval is the shortest run interval: Seclytics updates its dump at
// most a few times a day, and a shorter interval only adds load.
const MinInterval = time.Minute

// minIntervalOverride, if set at link time (-ldflags "-X
// forewarn/internal/config.minIntervalOverride=15s"), replaces MinInterval:
// cmd/forewarn's two-instance schedule test builds forewarn so, to wait
// seconds for a schedule rather than a minute. Release builds never set it.
var minIntervalOverride string

// minInterval is the shortest interval ParseFrequency accepts.
func minInterval() time.Duration {
	if d, err := time.ParseDuration(minIntervalOverride); err == nil && d > 0 {
		return d
	}
	return MinInterval
}

// Schedule is a parsed run frequency: either an interval or a cron
// expression.
type Schedule struct {
	Interval time.Duration // > 0 for an interval
	Cron     string        // a standard 5-field expression or a descriptor such as @daily
}

// Next is when a feed on this schedule that last ran at last runs next.
func (s Schedule) Next(last time.Time) (time.Time, error) {
	if s.Interval > 0 {
		return last.Add(s.Interval), nil
	}
	cs, err := cron.ParseStandard(s.Cron)
	if err != nil {
		return time.Time{}, &FieldError{"frequency", fmt.Sprintf("%q: %v", s.Cron, err)}
	}
	return cs.Next(last), nil
}

// ParseFrequency parses a run frequency.
func ParseFrequency(v string) (Schedule, error) {
	v = strings.TrimSpace(v)
	if d, err := time.ParseDuration(v); err == nil {
		if least := minInterval(); d < least {
			return Schedule{}, &FieldError{"frequency", fmt.Sprintf("an interval must be at least %s, not %s", least, d)}
		}
		return Schedule{Interval: d}, nil
	}
	sched, err := cron.ParseStandard(v)
	if err != nil {
		return Schedule{}, &FieldError{"frequency", fmt.Sprintf("must be an interval such as 24h or a cron expression such as \"0 3 * * *\" (minute hour day month weekday), not %q: %v", v, err)}
	}
	// "@every D" is an interval written as a cron descriptor: it is held
	// to the same minimum.
	if every, ok := sched.(cron.ConstantDelaySchedule); ok {
		if least := minInterval(); every.Delay < least {
			return Schedule{}, &FieldError{"frequency", fmt.Sprintf("an interval must be at least %s, not %s (%q)", least, every.Delay, v)}
		}
	}
	return Schedule{Cron: v}, nil
}

// FieldError is a validation error naming the field at fault.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// ErrUnknownKey is wrapped when a key=value setting names no parameter.
var ErrUnknownKey = errors.New("unknown configuration key")

// Validate checks every field and returns the first problem as a *FieldError.
func (c *Seclytics) Validate() error {
	switch {
	case c.Dataset != DatasetA && c.Dataset != DatasetB:
		return &FieldError{"dataset", fmt.Sprintf("must be A or B, not %q", c.Dataset)}
	case !(c.Threshold >= 0 && c.Threshold <= 100):
		return &FieldError{"threshold", fmt.Sprintf("must be a number from 0 to 100, not %v", c.Threshold)}
	case c.Overlap < 0:
		return &FieldError{"overlap", "must not be negative"}
	case c.AgeOut != 0 && c.AgeOut < MinAgeOut:
		return &FieldError{"age_out", fmt.Sprintf("must be at least %s, or never, not %s", time.Duration(MinAgeOut), time.Duration(c.AgeOut))}
	case c.SightingExtends != 0 && (c.SightingExtends < MinSightingExtends || c.SightingExtends > MaxSightingExtends):
		return &FieldError{"sighting_extends", fmt.Sprintf("must be from %s to %s, or off, not %s",
			time.Duration(MinSightingExtends), time.Duration(MaxSightingExtends), time.Duration(c.SightingExtends))}
	case c.Tries < 1 || c.Tries > 20:
		return &FieldError{"tries", fmt.Sprintf("must be from 1 to 20, not %d", c.Tries)}
	case c.ConnectTimeout <= 0:
		return &FieldError{"connect_timeout", "must be positive"}
	case c.IdleTimeout <= 0:
		return &FieldError{"idle_timeout", "must be positive"}
	case c.MaxCompressed <= 0:
		return &FieldError{"max_compressed", "must be positive"}
	case c.MaxDecompressed <= 0:
		return &FieldError{"max_decompressed", "must be positive"}
	case c.MaxLine < 1024 || c.MaxLine > 1<<30:
		return &FieldError{"max_line", "must be from 1KiB to 1GiB"}
	case c.MaxNetblock.IPv4 < indicator.MinNetblockBits4 || c.MaxNetblock.IPv4 > 32 ||
		c.MaxNetblock.IPv6 < indicator.MinNetblockBits6 || c.MaxNetblock.IPv6 > 128:
		return &FieldError{"max_netblock", fmt.Sprintf("must be an IPv4 prefix length from /8 to /32 and an IPv6 one from /16 to /128, such as /16,/32, not %s", c.MaxNetblock)}
	}
	if _, err := ParseFrequency(c.Frequency); err != nil {
		return err
	}
	if err := checkBaseURL(c.BaseURL); err != nil {
		return err
	}
	for _, cat := range c.Categories {
		if cat == "" || cat != strings.ToLower(strings.TrimSpace(cat)) {
			return &FieldError{"categories", fmt.Sprintf("%q must be a trimmed, lower-case category", cat)}
		}
	}
	for _, name := range c.Context {
		if !slices.Contains(ContextNames, name) {
			return &FieldError{"context", fmt.Sprintf("unknown context %q; choose from: %s", name, strings.Join(ContextNames, ", "))}
		}
	}
	return nil
}

// maxBaseURL bounds base_url: an origin and a short path prefix need far less.
const maxBaseURL = 2048

// checkBaseURL accepts an origin plus an optional path prefix, and nothing
// the client would send the token along with: no query or fragment (a
// trailing "#" or "?" would cut off the dump path and let any URL be
// fetched), no user info, no dot segments, and plain http only to a
// loopback address, where the fake vendor and the tests listen.
func checkBaseURL(raw string) error {
	bad := func(why string) error {
		return &FieldError{"base_url", fmt.Sprintf("%s: give an origin and an optional path prefix, such as %s", why, DefaultBaseURL)}
	}
	if len(raw) > maxBaseURL {
		return bad(fmt.Sprintf("is %d bytes long, more than %d", len(raw), maxBaseURL))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Opaque != "" || u.Host == "":
		return bad(fmt.Sprintf("%q is not an absolute http(s) URL", raw))
	case u.Scheme != "https" && u.Scheme != "http":
		return bad(fmt.Sprintf("scheme %q is not https", u.Scheme))
	case u.User != nil:
		return bad("must not carry a user name or password")
	case u.RawQuery != "" || u.ForceQuery:
		return bad("must not have a query (?...)")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("must not have a fragment (#...)")
	case u.Scheme == "http" && !IsLoopbackHost(u.Hostname()):
		return bad(fmt.Sprintf("plain http is only allowed to a loopback address, not %q, because the access token travels in the URL: use https", u.Hostname()))
	}
	if p := strings.TrimRight(u.Path, "/"); p != "" && (path.Clean(p) != p || strings.ContainsAny(u.Path, "\\\x00")) {
		return bad(fmt.Sprintf("path %q must be a plain prefix without dot segments", u.Path))
	}
	return nil
}

// IsLoopbackHost reports whether host (without port) is localhost or a
// loopback IP address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Origin returns the scheme, host and port of a base URL, lower-cased,
// with the scheme's default port made explicit, so that two spellings of
// the same origin compare equal. It returns "" for a URL it cannot parse.
func Origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// KeepTokenFor decides the token after a change from prev to c: when the
// base URL moves to another origin, the stored token is dropped unless
// the same change set one (tokenSet), so that a changed base_url can never
// send the vendor's token to someone else.
func (c *Seclytics) KeepTokenFor(prev Seclytics, tokenSet bool) {
	if !tokenSet && Origin(prev.BaseURL) != Origin(c.BaseURL) {
		c.Token = secret.String{}
	}
}

// Selected reports whether the context attribute name is selected.
func (c *Seclytics) Selected(name string) bool { return slices.Contains(c.Context, name) }

// Keys lists the keys Set accepts, for help texts.
var Keys = []string{
	"dataset", "threshold", "normalize", "filter_by_date", "categories", "context", "frequency", "overlap",
	"age_out", "allowlist_special_ranges", "sighting_extends", "base_url", "tries", "connect_timeout", "idle_timeout", "max_compressed", "max_decompressed", "max_line",
	"max_netblock",
}

// Set parses value into the parameter named key. It does not validate the
// whole configuration; call Validate afterwards.
func (c *Seclytics) Set(key, value string) error {
	value = strings.TrimSpace(value)
	var err error
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "-", "_") {
	case "dataset":
		c.Dataset = strings.ToUpper(value)
	case "threshold", "importance_threshold":
		c.Threshold, err = strconv.ParseFloat(value, 64)
		if err != nil {
			return &FieldError{"threshold", fmt.Sprintf("must be a number from 0 to 100, not %q", value)}
		}
	case "normalize", "normalize_importance":
		c.Normalize, err = parseBool("normalize", value)
	case "filter_by_date":
		c.FilterByDate, err = parseBool("filter_by_date", value)
	case "categories", "detected_categories":
		c.Categories = ParseCategories(value)
	case "context":
		c.Context, err = ParseContext(value)
	case "frequency", "schedule":
		c.Frequency = value
	case "overlap":
		err = c.Overlap.set("overlap", value)
	case "age_out":
		err = c.AgeOut.set("age_out", value)
	case "allowlist_special_ranges":
		c.AllowlistSpecialRanges, err = parseBool("allowlist_special_ranges", value)
	case "sighting_extends":
		err = c.SightingExtends.set("sighting_extends", value)
	case "base_url":
		c.BaseURL = strings.TrimRight(value, "/")
	case "tries":
		c.Tries, err = strconv.Atoi(value)
		if err != nil {
			return &FieldError{"tries", fmt.Sprintf("must be a whole number, not %q", value)}
		}
	case "connect_timeout":
		err = c.ConnectTimeout.set("connect_timeout", value)
	case "idle_timeout":
		err = c.IdleTimeout.set("idle_timeout", value)
	case "max_compressed":
		err = c.MaxCompressed.set("max_compressed", value)
	case "max_decompressed":
		err = c.MaxDecompressed.set("max_decompressed", value)
	case "max_line":
		err = c.MaxLine.set("max_line", value)
	case "max_netblock":
		err = c.MaxNetblock.set("max_netblock", value)
	case "token", "access_token":
		return &FieldError{"token", "is not set with key=value, because command lines show in ps: use --token-file FILE or the SECLYTICS_ACCESS_TOKEN environment variable"}
	default:
		return fmt.Errorf("%w %q: known keys are %s", ErrUnknownKey, key, strings.Join(Keys, ", "))
	}
	return err
}

// Settings returns a function that applies key=value settings with Set, in
// order: a run's Override (tests build configurations with it).
func Settings(kvs ...string) func(*Seclytics) error {
	return func(c *Seclytics) error {
		for _, kv := range kvs {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("setting %q: use key=value", kv)
			}
			if err := c.Set(k, v); err != nil {
				return err
			}
		}
		return nil
	}
}

func parseBool(field, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "t", "true", "on", "yes", "y":
		return true, nil
	case "0", "f", "false", "off", "no", "n", "":
		return false, nil
	}
	return false, &FieldError{field, fmt.Sprintf("must be true or false, not %q", v)}
}

// ParseCategories splits a comma- or line-separated list, trims and
// lower-cases each value, and drops empty values and duplicates. An empty
// result means every category passes.
func ParseCategories(s string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		f = strings.ToLower(strings.TrimSpace(f))
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// ParseContext parses a comma-separated list of context names, matched
// case-insensitively. "all" selects everything; an empty value selects
// nothing.
func ParseContext(s string) ([]string, error) {
	out := []string{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.EqualFold(f, "all") {
			return slices.Clone(ContextNames), nil
		}
		i := slices.IndexFunc(ContextNames, func(n string) bool { return strings.EqualFold(n, f) })
		if i < 0 {
			return nil, &FieldError{"context", fmt.Sprintf("unknown context %q; choose from: %s (or all)", f, strings.Join(ContextNames, ", "))}
		}
		if !slices.Contains(out, ContextNames[i]) {
			out = append(out, ContextNames[i])
		}
	}
	// Keep the guide's order so that stored configurations compare equal.
	slices.SortFunc(out, func(a, b string) int {
		return slices.Index(ContextNames, a) - slices.Index(ContextNames, b)
	})
	return out, nil
}

// Decode reads a stored configuration strictly: unknown keys are errors.
// Fields absent from data keep their defaults.
func Decode(data []byte) (Seclytics, error) {
	c := Default()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("decode seclytics configuration: %w", err)
	}
	return c, c.Validate()
}

// Encode writes the configuration without its token.
func (c *Seclytics) Encode() []byte {
	b, err := json.Marshal(c)
	if err != nil { // cannot happen: every field marshals
		panic(err)
	}
	return b
}

// Fingerprint identifies the parameters that decide what a run stores. A run
// may skip an unchanged dump only if the fingerprint is the same as the one
// of the run that stored it.
//
// age_out and allowlist_special_ranges are deliberately not part of it: they
// decide statuses and expiry dates, not which rows or attributes are kept,
// and a run applies them from what is stored (recomputing every expires_at
// when age_out changed, whitelisting allow-listed ranges set-based) even
// when the dump has not changed, so a change of either needs no re-download.
func (c *Seclytics) Fingerprint() string {
	// max_netblock decides which netblocks are kept; it is left out at its
	// default so that fingerprints stored before it existed still match.
	var nb string
	if c.MaxNetblock != DefaultMaxNetblock {
		nb = c.MaxNetblock.String()
	}
	b, _ := json.Marshal(struct {
		D  string
		T  float64
		N  bool
		F  bool
		Ca []string
		Co []string
		Nb string `json:",omitempty"`
	}{c.Dataset, c.Threshold, c.Normalize, c.FilterByDate, c.Categories, c.Context, nb})
	return string(b)
}

// MaxNetblock is the widest predicted netblock kept, as prefix lengths
// per family, written "/16,/32" (IPv4, then IPv6).
type MaxNetblock struct {
	IPv4, IPv6 int
}

func (m MaxNetblock) String() string { return fmt.Sprintf("/%d,/%d", m.IPv4, m.IPv6) }

// MarshalText implements encoding.TextMarshaler.
func (m MaxNetblock) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MaxNetblock) UnmarshalText(b []byte) error { return m.set("max_netblock", string(b)) }

func (m *MaxNetblock) set(field, v string) error {
	bad := &FieldError{field, fmt.Sprintf("must be two prefix lengths, IPv4 then IPv6, such as /16,/32, not %q", v)}
	v4, v6, ok := strings.Cut(v, ",")
	if !ok || len(v) > 16 {
		return bad
	}
	var out [2]int
	for i, f := range []string{v4, v6} {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(f), "/"))
		if err != nil {
			return bad
		}
		out[i] = n
	}
	*m = MaxNetblock{IPv4: out[0], IPv6: out[1]}
	return nil
}

// Duration is a time.Duration written as "48h0m0s" in JSON.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error { return d.set("duration", string(b)) }

func (d *Duration) set(field, v string) error {
	x, err := time.ParseDuration(v)
	if err != nil {
		return &FieldError{field, fmt.Sprintf("must be a duration such as 48h or 90s, not %q", v)}
	}
	*d = Duration(x)
	return nil
}

// AgeOut is how long an indicator stays Active after it was last seen,
// written as a duration ("2160h0m0s") or "never" (0) in JSON.
type AgeOut time.Duration

// Never is the age_out of indicators that never expire.
const Never AgeOut = 0

func (a AgeOut) String() string {
	if a == Never {
		return "never"
	}
	return time.Duration(a).String()
}

// Seconds is the age_out in whole seconds (0: never).
func (a AgeOut) Seconds() int64 { return int64(time.Duration(a) / time.Second) }

// MarshalText implements encoding.TextMarshaler.
func (a AgeOut) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *AgeOut) UnmarshalText(b []byte) error { return a.set("age_out", string(b)) }

func (a *AgeOut) set(field, v string) error {
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "never") {
		*a = Never
		return nil
	}
	x, err := time.ParseDuration(v)
	if err != nil || x <= 0 {
		return &FieldError{field, fmt.Sprintf("must be a positive duration such as 2160h (90 days) or never, not %q", v)}
	}
	*a = AgeOut(x)
	return nil
}

// SightingExtends is how long a sighting keeps an indicator Active,
// written as a duration ("720h0m0s") or "off" (0) in JSON.
type SightingExtends time.Duration

func (s SightingExtends) String() string {
	if s == 0 {
		return "off"
	}
	return time.Duration(s).String()
}

// Duration is the extension (0: off).
func (s SightingExtends) Duration() time.Duration { return time.Duration(s) }

// MarshalText implements encoding.TextMarshaler.
func (s SightingExtends) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *SightingExtends) UnmarshalText(b []byte) error { return s.set("sighting_extends", string(b)) }

func (s *SightingExtends) set(field, v string) error {
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "off") || v == "0" {
		*s = 0
		return nil
	}
	x, err := time.ParseDuration(v)
	if err != nil || x <= 0 {
		return &FieldError{field, fmt.Sprintf("must be a positive duration such as 720h (30 days) or off, not %q", v)}
	}
	*s = SightingExtends(x)
	return nil
}

// Size is a byte count written with a binary unit ("4GiB") in JSON.
type Size int64

var units = []struct {
	suffix string
	n      int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

func (s Size) String() string {
	for _, u := range units {
		if s >= Size(u.n) && int64(s)%u.n == 0 {
			return strconv.FormatInt(int64(s)/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error { return s.set("size", string(b)) }

func (s *Size) set(field, v string) error {
	v = strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(v), strings.ToUpper(u.suffix)) {
			v, mult = strings.TrimSpace(v[:len(v)-len(u.suffix)]), u.n
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return &FieldError{field, fmt.Sprintf("must be a size such as 4GiB, 512MiB or 1048576, not %q", v)}
	}
	*s = Size(n * mult)
	return nil
}
