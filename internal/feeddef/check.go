package feeddef

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/config"
)

// formatKeys are the format keys each kind takes.
var formatKeys = map[string][]string{
	KindCSV:     {"kind", "comments", "max_line", "delimiter", "header", "columns", "quote", "strict_fields", "accept_ndjson"},
	KindLines:   {"kind", "comments", "max_line", "separator", "inline_comment", "fields"},
	KindNDJSON:  {"kind", "comments", "max_line", "skip_if"},
	KindRecords: {"kind", "comments", "max_line", "record_start", "entry_key", "entry_fields"},
}

// attributeKeys are the attribute keys that apply to one type only, or to
// a few.
var attributeKeys = map[string][]string{
	"layouts":            {TypeDate},
	"separators":         {TypeList},
	"min":                {TypeNumber},
	"max":                {TypeNumber},
	"max_prefix":         {TypeCIDR},
	"contains_indicator": {TypeCIDR},
	"lower":              {TypeText, TypeList},
	"value":              {TypeConstant},
	"field":              {TypeText, TypeNumber, TypeDate, TypeList, TypeCIDR},
	"required":           {TypeText, TypeNumber, TypeDate, TypeList, TypeCIDR},
}

var attributeTypes = []string{TypeText, TypeNumber, TypeDate, TypeList, TypeCIDR, TypeConstant}

// checker gathers the problems a schema cannot find.
type checker struct {
	d        *Definition
	pos      *positions
	problems Problems
}

func (c *checker) add(ptr, format string, args ...any) {
	c.problems = append(c.problems, c.pos.problem(ptr, format, args...))
}

func (c *checker) addKey(ptr, format string, args ...any) {
	c.problems = append(c.problems, c.pos.keyProblem(ptr, format, args...))
}

// check validates what the schema cannot: keys that do not apply to a
// kind or type, references, layouts, bounds and their order.
func (d *Definition) check(pos *positions) Problems {
	c := &checker{d: d, pos: pos}
	c.semantics()
	c.fetch()
	c.format()
	c.mapping()
	attrs := c.attributes()
	params := c.parameters(attrs)
	c.filters(attrs, params)
	c.derived(attrs, params)
	if d.Select != "" {
		c.paramRef("/select", d.Select, ParamAttributes, params)
	}
	if c.problems == nil {
		return nil
	}
	sortProblems(c.problems)
	return c.problems
}

func (c *checker) semantics() {
	d := c.d
	if d.AgeOut != "" && d.AgeOut != "never" {
		if v, err := time.ParseDuration(d.AgeOut); err != nil || v <= 0 {
			c.add("/age_out", "age_out %q is not a positive duration such as 2160h, or never", d.AgeOut)
		}
	}
	if d.Schedule != "" {
		if err := checkSchedule(d.Schedule); err != nil {
			c.add("/schedule", "schedule %q: %v", d.Schedule, err)
		}
	}
}

// checkSchedule accepts what a feed's frequency setting accepts
// (config.ParseFrequency): an interval of at least a minute, written as
// 24h or @every 2h, or a cron expression (0 3 * * *, @daily).
func checkSchedule(s string) error {
	if _, err := config.ParseFrequency(s); err != nil {
		var fe *config.FieldError
		if errors.As(err, &fe) {
			return errors.New(fe.Msg)
		}
		return err
	}
	return nil
}

func (c *checker) fetch() {
	a := c.d.Fetch.Auth
	kinds := map[string]string{"param": AuthQuery, "header": AuthHeader, "prefix": AuthHeader, "username": AuthBasic}
	for key, kind := range kinds {
		if c.pos.has("/fetch/auth/"+key) && a.Kind != kind {
			c.addKey("/fetch/auth/"+key, "auth key %q applies only to kind %s, not %s", key, kind, a.Kind)
		}
	}
	if c.d.Fetch.Auth.Kind == "" {
		c.d.Fetch.Auth.Kind = AuthNone
	}
	if c.d.Fetch.Compression == "" {
		c.d.Fetch.Compression = "auto"
	}
}

func (c *checker) format() {
	f := &c.d.Format
	if formatKeys[f.Kind] == nil {
		return // the schema reports the kind
	}
	for _, key := range []string{"delimiter", "header", "columns", "quote", "strict_fields", "accept_ndjson", "separator",
		"inline_comment", "fields", "skip_if", "record_start", "entry_key", "entry_fields"} {
		if c.pos.has("/format/"+key) && !slices.Contains(formatKeys[f.Kind], key) {
			c.addKey("/format/"+key, "format key %q does not apply to kind %s", key, f.Kind)
		}
	}
	switch f.Kind {
	case KindCSV:
		if f.Delimiter == "" {
			f.Delimiter = ","
		}
		if f.Header == "" {
			f.Header = "row"
		}
		if f.Header != "none" && f.Columns != nil {
			c.addKey("/format/columns", "columns apply only with header: none; with header: %s the names come from the file", f.Header)
		}
		if f.Delimiter == "\"" || f.Delimiter == "\n" || f.Delimiter == "\r" {
			c.add("/format/delimiter", "delimiter %q cannot separate fields", f.Delimiter)
		}
	case KindLines:
		if f.Fields == nil {
			f.Fields = []string{"value"}
		}
	case KindRecords:
		if f.EntryFields == nil {
			f.EntryFields = []string{f.EntryKey}
		}
	}
	for i, p := range f.Comments {
		if strings.TrimSpace(p) == "" {
			c.add("/format/comments/"+strconv.Itoa(i), "a comment prefix cannot be blank")
		}
	}
	if f.MaxLine == 0 {
		f.MaxLine = DefaultMaxLine
	}
}

// knownField reports whether name can be a field of the format; for a CSV
// with a header or for NDJSON the file decides, so every name is known.
func (c *checker) knownField(ptr, name string) {
	f := c.d.Format
	var names []string
	switch {
	case f.Kind == KindCSV && f.Header == "none":
		names = f.Columns
	case f.Kind == KindLines:
		names = f.Fields
	default:
		return
	}
	if !slices.Contains(names, name) {
		c.add(ptr, "field %q is not one of the format's fields %s", name, quoteAll(names))
	}
}

func (c *checker) mapping() {
	m := c.d.Indicator
	c.knownField("/indicator/field", m.Field)
	if m.PrefixLengthField != "" {
		c.knownField("/indicator/prefix_length_field", m.PrefixLengthField)
	}
	for key, s := range map[string]*Seen{"first_seen": m.FirstSeen, "last_seen": m.LastSeen} {
		if s == nil {
			continue
		}
		c.knownField("/indicator/"+key+"/field", s.Field)
		c.layouts("/indicator/"+key+"/layouts", s.Layouts)
	}
}

func (c *checker) layouts(ptr string, layouts []string) {
	for i, l := range layouts {
		if err := checkLayout(l); err != nil {
			c.add(ptr+"/"+strconv.Itoa(i), "layout %q: %v", l, err)
		}
	}
}

// checkLayout accepts a Go time layout that keeps at least the date: a
// reference time formatted with it parses back to the same day.
func checkLayout(l string) error {
	if l == "unix" {
		return nil
	}
	ref := time.Date(2021, 2, 3, 4, 5, 6, 0, time.UTC)
	s := ref.Format(l)
	if s == l {
		return fmt.Errorf("holds no date elements: write it with Go's reference time, 2006-01-02 15:04:05")
	}
	t, err := time.Parse(l, s)
	if err != nil {
		return fmt.Errorf("does not parse what it formats: %v", err)
	}
	if t.Year() != 2021 || t.Month() != 2 || t.Day() != 3 {
		return fmt.Errorf("needs a year (2006), a month (01 or Jan) and a day (02)")
	}
	return nil
}

func (c *checker) attributes() map[string]string {
	types := map[string]string{}
	for i, a := range c.d.Attributes {
		ptr := "/attributes/" + strconv.Itoa(i)
		if _, dup := types[a.Name]; dup {
			c.add(ptr+"/name", "attribute %q is defined twice", a.Name)
		}
		types[a.Name] = a.Type
		for key, applies := range attributeKeys {
			if c.pos.has(ptr+"/"+key) && !slices.Contains(applies, a.Type) && slices.Contains(attributeTypes, a.Type) {
				c.addKey(ptr+"/"+key, "attribute key %q does not apply to type %s", key, a.Type)
			}
		}
		if a.Field != "" {
			c.knownField(ptr+"/field", a.Field)
		}
		c.layouts(ptr+"/layouts", a.Layouts)
		if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
			c.add(ptr+"/max", "max %v is below min %v", *a.Max, *a.Min)
		}
		for j, s := range a.Separators {
			if strings.ContainsAny(s, "\r\n") {
				c.add(ptr+"/separators/"+strconv.Itoa(j), "a list separator cannot hold a line break")
			}
		}
	}
	for i, dv := range c.d.Derived {
		if _, dup := types[dv.Name]; dup {
			c.add("/derived/"+strconv.Itoa(i)+"/name", "attribute %q is defined twice", dv.Name)
		}
		types[dv.Name] = TypeText
	}
	return types
}

func (c *checker) parameters(attrs map[string]string) map[string]string {
	types := map[string]string{}
	for i, p := range c.d.Parameters {
		ptr := "/parameters/" + strconv.Itoa(i)
		if _, dup := types[p.Name]; dup {
			c.add(ptr+"/name", "parameter %q is defined twice", p.Name)
		}
		types[p.Name] = p.Type
		for _, key := range []string{"min", "max"} {
			if c.pos.has(ptr+"/"+key) && p.Type != ParamNumber {
				c.addKey(ptr+"/"+key, "parameter key %q applies only to type number", key)
			}
		}
		if c.pos.has(ptr+"/choices") && p.Type != ParamText {
			c.addKey(ptr+"/choices", "parameter key \"choices\" applies only to type text")
		}
		c.parameterDefault(ptr, p, attrs)
	}
	if placeholders, err := pathPlaceholders(c.d.Fetch.Path); err != nil {
		c.add("/fetch/path", "%v", err)
	} else {
		for _, name := range placeholders {
			c.paramRef("/fetch/path", name, ParamText, types)
		}
	}
	return types
}

func (c *checker) parameterDefault(ptr string, p Parameter, attrs map[string]string) {
	switch p.Type {
	case ParamNumber:
		v, _ := toFloat(p.Default)
		if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
			c.add(ptr+"/max", "max %v is below min %v", *p.Max, *p.Min)
		} else if (p.Min != nil && v < *p.Min) || (p.Max != nil && v > *p.Max) {
			c.add(ptr+"/default", "default %v is outside min..max", v)
		}
	case ParamText:
		if s, _ := p.Default.(string); p.Choices != nil && !slices.Contains(p.Choices, s) {
			c.add(ptr+"/default", "default %q is not one of the choices %s", s, quoteAll(p.Choices))
		}
	case ParamAttributes:
		items, _ := p.Default.([]any)
		for j, it := range items {
			s, _ := it.(string)
			if _, ok := attrs[s]; !ok && !(s == "all" && len(items) == 1) {
				c.add(ptr+"/default/"+strconv.Itoa(j), "%q is not an attribute of this feed", s)
			}
		}
	}
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case uint64:
		return float64(n), true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

func pathPlaceholders(p string) ([]string, error) {
	var names []string
	_, err := expandPath(p, func(name string) (string, bool) {
		names = append(names, name)
		return "", true
	})
	return names, err
}

func (c *checker) paramRef(ptr, name, want string, params map[string]string) {
	got, ok := params[name]
	switch {
	case !ok:
		c.add(ptr, "parameter %q is not defined under parameters", name)
	case got != want:
		c.add(ptr, "parameter %q is a %s, this needs a %s parameter", name, got, want)
	}
}

func (c *checker) attrRef(ptr, name string, want []string, attrs map[string]string) {
	got, ok := attrs[name]
	switch {
	case !ok:
		c.add(ptr, "attribute %q is not defined under attributes", name)
	case !slices.Contains(want, got):
		c.add(ptr, "attribute %q is a %s, this needs %s", name, got, strings.Join(want, " or "))
	}
}

func (c *checker) filters(attrs, params map[string]string) {
	for i, f := range c.d.Filters {
		ptr := "/filters/" + strconv.Itoa(i)
		for _, key := range []string{"attribute", "parameter"} {
			if c.pos.has(ptr+"/"+key) && f.Type == FilterDateWindow {
				c.addKey(ptr+"/"+key, "filter key %q does not apply to a date_window (it takes attributes)", key)
			}
		}
		if c.pos.has(ptr+"/attributes") && f.Type != FilterDateWindow {
			c.addKey(ptr+"/attributes", "filter key \"attributes\" applies only to a date_window")
		}
		switch f.Type {
		case FilterAtLeast:
			c.attrRef(ptr+"/attribute", f.Attribute, []string{TypeNumber}, attrs)
			c.paramRef(ptr+"/parameter", f.Parameter, ParamNumber, params)
		case FilterAnyOf:
			c.attrRef(ptr+"/attribute", f.Attribute, []string{TypeList, TypeText, TypeConstant}, attrs)
			c.paramRef(ptr+"/parameter", f.Parameter, ParamList, params)
		case FilterDateWindow:
			for j, a := range f.Attributes {
				c.attrRef(ptr+"/attributes/"+strconv.Itoa(j), a, []string{TypeDate}, attrs)
			}
		}
		if f.When != "" {
			c.paramRef(ptr+"/when", f.When, ParamBoolean, params)
		}
	}
}

func (c *checker) derived(attrs, params map[string]string) {
	for i, dv := range c.d.Derived {
		ptr := "/derived/" + strconv.Itoa(i)
		c.attrRef(ptr+"/from", dv.From, []string{TypeNumber}, attrs)
		if dv.When != "" {
			c.paramRef(ptr+"/when", dv.When, ParamBoolean, params)
		}
		for j, b := range dv.Bands {
			bp := ptr + "/bands/" + strconv.Itoa(j)
			last := j == len(dv.Bands)-1
			switch {
			case b.AtLeast == nil && !last:
				c.add(bp, "only the last band may leave out at_least (it takes every lower number)")
			case j > 0 && b.AtLeast != nil && dv.Bands[j-1].AtLeast != nil && *b.AtLeast >= *dv.Bands[j-1].AtLeast:
				c.add(bp+"/at_least", "bands must be in decreasing order of at_least: %v follows %v", *b.AtLeast, *dv.Bands[j-1].AtLeast)
			}
		}
	}
}
