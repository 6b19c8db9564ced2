package feeddef

import (
	"fmt"
	"net/url"
	"strings"
)

// Definition is a validated feed definition. Build it with Parse or get a
// built-in one with Builtin; its fields must not be changed afterwards.
type Definition struct {
	ID          string `yaml:"id"`
	Title       string `yaml:"title"`
	Source      string `yaml:"source"`
	Publisher   string `yaml:"publisher"`
	Description string `yaml:"description"`
	Terms       string `yaml:"terms"`
	// Schedule is the default schedule: an interval ("24h") or a cron
	// expression in UTC. Empty means the runner's default.
	Schedule string `yaml:"schedule"`
	// Mode is ModeSnapshot or ModeCumulative.
	Mode string `yaml:"mode"`
	// AgeOut is a duration such as "2160h", "never", or empty (none).
	AgeOut string `yaml:"age_out"`
	// Confidence is 0-100; nil when the definition does not say.
	Confidence *int `yaml:"confidence"`

	Fetch      Fetch       `yaml:"fetch"`
	Format     Format      `yaml:"format"`
	Indicator  Mapping     `yaml:"indicator"`
	Attributes []Attribute `yaml:"attributes"`
	Parameters []Parameter `yaml:"parameters"`
	Filters    []Filter    `yaml:"filters"`
	Derived    []Derived   `yaml:"derived"`
	// Select names the attributes parameter that chooses which attributes
	// an entry keeps; empty keeps them all.
	Select string `yaml:"select"`
}

// Modes.
const (
	ModeSnapshot   = "snapshot"
	ModeCumulative = "cumulative"
)

// Fetch says where and how the feed is downloaded.
type Fetch struct {
	// BaseURL is the publisher's origin, plus an optional path prefix.
	BaseURL string `yaml:"base_url"`
	// Path is the publisher's path; {name} is replaced by the value of
	// text parameter name.
	Path        string `yaml:"path"`
	Auth        Auth   `yaml:"auth"`
	Conditional bool   `yaml:"conditional"`
	// Compression is "auto" (sniffed, the default), "gzip" or "plain".
	Compression string `yaml:"compression"`
}

// Auth kinds.
const (
	AuthNone   = "none"
	AuthQuery  = "query"  // the token in query parameter Param
	AuthHeader = "header" // the token in header Header, after Prefix
	AuthBasic  = "basic"  // HTTP basic authentication, Username and the token as password
)

// Auth says how the feed's secret (a token or password kept in the feed's
// settings, never in the definition) is sent.
type Auth struct {
	Kind     string `yaml:"kind"`
	Param    string `yaml:"param"`
	Header   string `yaml:"header"`
	Prefix   string `yaml:"prefix"`
	Username string `yaml:"username"`
}

// Format kinds.
const (
	KindCSV     = "csv"
	KindLines   = "lines"
	KindNDJSON  = "ndjson"
	KindRecords = "records"
)

// Format says how the (decompressed) body is read.
type Format struct {
	Kind     string   `yaml:"kind"`
	Comments []string `yaml:"comments"`
	MaxLine  int      `yaml:"max_line"`

	// CSV and TSV.
	Delimiter    string   `yaml:"delimiter"`
	Header       string   `yaml:"header"` // row (default), comment or none
	Columns      []string `yaml:"columns"`
	Quote        *bool    `yaml:"quote"` // RFC 4180 quoting, on by default
	StrictFields bool     `yaml:"strict_fields"`
	// AcceptNDJSON reads a body whose first data line starts with { as
	// NDJSON, with the column names as keys (Seclytics serves both).
	AcceptNDJSON bool `yaml:"accept_ndjson"`

	// Line lists.
	Separator     string   `yaml:"separator"` // default: runs of blanks
	InlineComment string   `yaml:"inline_comment"`
	Fields        []string `yaml:"fields"` // default: [value]

	// NDJSON.
	SkipIf *SkipIf `yaml:"skip_if"`

	// Key-value records.
	RecordStart string   `yaml:"record_start"`
	EntryKey    string   `yaml:"entry_key"`
	EntryFields []string `yaml:"entry_fields"`
}

// SkipIf drops NDJSON lines whose Field equals Equals (a metadata line).
type SkipIf struct {
	Field  string `yaml:"field"`
	Equals string `yaml:"equals"`
}

// MaxPrefix bounds how wide a prefix may be: the shortest prefix length
// accepted per family.
type MaxPrefix struct {
	IPv4 *int `yaml:"ipv4"`
	IPv6 *int `yaml:"ipv6"`
	// Setting names the configuration setting these limits come from,
	// when a feed's own configuration sets them (Seclytics' max_netblock):
	// a value that is too wide names it as the one to raise. Empty: the
	// definition's max_prefix.
	Setting string `yaml:"-" json:"-"`
}

// Default widest indicator prefixes: a /8 or a /16 listed by a feed is
// already extraordinary; anything wider is a mistake (FireHOL's bogon
// 224.0.0.0/3) that would make lookups match a large part of the Internet.
const (
	DefaultMaxPrefix4 = 8
	DefaultMaxPrefix6 = 16
)

// Mapping says which field is the indicator and where the feed's own
// first and last seen dates are.
type Mapping struct {
	Field             string     `yaml:"field"`
	PrefixLengthField string     `yaml:"prefix_length_field"`
	MaxPrefix         *MaxPrefix `yaml:"max_prefix"`
	FirstSeen         *Seen      `yaml:"first_seen"`
	LastSeen          *Seen      `yaml:"last_seen"`
}

// Seen maps a feed's own date.
type Seen struct {
	Field   string   `yaml:"field"`
	Layouts []string `yaml:"layouts"`
}

// Attribute types.
const (
	TypeText     = "text"
	TypeNumber   = "number"
	TypeDate     = "date"
	TypeList     = "list"
	TypeCIDR     = "cidr"
	TypeConstant = "constant"
)

// Attribute maps a field to a typed attribute.
type Attribute struct {
	Name       string     `yaml:"name"`
	Type       string     `yaml:"type"`
	Field      string     `yaml:"field"`
	Value      string     `yaml:"value"` // constant
	Layouts    []string   `yaml:"layouts"`
	Separators []string   `yaml:"separators"`
	Lower      bool       `yaml:"lower"`
	Required   bool       `yaml:"required"`
	Min        *float64   `yaml:"min"`
	Max        *float64   `yaml:"max"`
	MaxPrefix  *MaxPrefix `yaml:"max_prefix"`
	// ContainsIndicator drops a CIDR attribute that does not contain the
	// entry's indicator.
	ContainsIndicator bool `yaml:"contains_indicator"`
}

// Parameter types.
const (
	ParamNumber     = "number"
	ParamBoolean    = "boolean"
	ParamText       = "text"
	ParamList       = "list"
	ParamAttributes = "attributes"
)

// Parameter is a user-settable setting of the feed.
type Parameter struct {
	Name    string   `yaml:"name"`
	Label   string   `yaml:"label"`
	Type    string   `yaml:"type"`
	Default any      `yaml:"default"`
	Help    string   `yaml:"help"`
	Min     *float64 `yaml:"min"`
	Max     *float64 `yaml:"max"`
	Choices []string `yaml:"choices"`
}

// Filter types.
const (
	FilterAtLeast    = "at_least"
	FilterAnyOf      = "any_of"
	FilterDateWindow = "date_window"
)

// Filter keeps or drops an entry. at_least: the number Attribute is at
// least parameter Parameter (a missing number fails unless the parameter
// is 0). any_of: one of Attribute's items is in list parameter Parameter
// (case-insensitive; an empty list lets every entry pass). date_window:
// the first present date among Attributes lies in the run's window
// [Since, Until). When names a boolean parameter that turns the filter on.
type Filter struct {
	Type       string   `yaml:"type"`
	Attribute  string   `yaml:"attribute"`
	Attributes []string `yaml:"attributes"`
	Parameter  string   `yaml:"parameter"`
	When       string   `yaml:"when"`
}

// Derived is a text attribute computed from a number attribute by bands:
// the first band whose AtLeast the number reaches (a band without AtLeast
// takes the rest).
type Derived struct {
	Name  string `yaml:"name"`
	From  string `yaml:"from"`
	When  string `yaml:"when"`
	Bands []Band `yaml:"bands"`
}

// Band is one band of a Derived attribute.
type Band struct {
	AtLeast *float64 `yaml:"at_least"`
	Value   string   `yaml:"value"`
}

// Parameter returns the parameter called name, or nil.
func (d *Definition) Parameter(name string) *Parameter {
	for i := range d.Parameters {
		if d.Parameters[i].Name == name {
			return &d.Parameters[i]
		}
	}
	return nil
}

// AttributeNames lists the names of the attributes an entry can carry:
// mapped ones in order, then derived ones.
func (d *Definition) AttributeNames() []string {
	out := make([]string, 0, len(d.Attributes)+len(d.Derived))
	for _, a := range d.Attributes {
		out = append(out, a.Name)
	}
	for _, a := range d.Derived {
		out = append(out, a.Name)
	}
	return out
}

// URL is the fetch URL: baseURL (the definition's when empty) joined with
// the path, whose {name} placeholders take the values of text parameters
// from settings (their defaults when unset). Authentication is not
// applied: the fetcher adds the secret as Fetch.Auth says.
func (d *Definition) URL(baseURL string, settings map[string]string) (string, error) {
	if baseURL == "" {
		baseURL = d.Fetch.BaseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("feed %s: base_url %q must be an http or https origin with an optional path, without user info, query or fragment", d.ID, baseURL)
	}
	s, err := d.Settings(settings)
	if err != nil {
		return "", err
	}
	path, err := expandPath(d.Fetch.Path, func(name string) (string, bool) {
		v, ok := s.texts[name]
		return url.PathEscape(v), ok
	})
	if err != nil {
		return "", fmt.Errorf("feed %s: %w", d.ID, err)
	}
	return strings.TrimSuffix(baseURL, "/") + path, nil
}

// expandPath replaces {name} placeholders in p with lookup(name).
func expandPath(p string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			b.WriteString(p)
			return b.String(), nil
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("path %q has a { without its }", p)
		}
		name := p[i+1 : i+j]
		v, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("path placeholder {%s} names no text parameter", name)
		}
		b.WriteString(p[:i])
		b.WriteString(v)
		p = p[i+j+1:]
	}
}
