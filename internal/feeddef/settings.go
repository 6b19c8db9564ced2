package feeddef

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Settings are a feed's parameter values, resolved against its
// definition: every parameter has a value of its type (its default when
// unset), in bounds.
type Settings struct {
	numbers map[string]float64
	bools   map[string]bool
	texts   map[string]string
	lists   map[string][]string
}

// Number, Bool, Text and List return a parameter's value; the zero value
// for a parameter of another type or an unknown one.
func (s Settings) Number(name string) float64 { return s.numbers[name] }
func (s Settings) Bool(name string) bool      { return s.bools[name] }
func (s Settings) Text(name string) string    { return s.texts[name] }
func (s Settings) List(name string) []string  { return s.lists[name] }

// Settings resolves parameter values given as text (as `config --set
// name=value` takes them): numbers in decimal, booleans as true/false
// (yes/no, on/off, 1/0), lists comma- or line-separated, attributes as a
// list of attribute names or "all". An unset parameter takes its default.
// A name that is no parameter, or a value that does not fit, is an error
// naming the parameter and what it takes.
func (d *Definition) Settings(values map[string]string) (Settings, error) {
	s := Settings{numbers: map[string]float64{}, bools: map[string]bool{}, texts: map[string]string{}, lists: map[string][]string{}}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if d.Parameter(k) == nil {
			return Settings{}, fmt.Errorf("feed %s has no parameter %q; it has: %s", d.ID, k, strings.Join(d.parameterNames(), ", "))
		}
	}
	for _, p := range d.Parameters {
		raw, set := values[p.Name]
		if err := s.resolve(d, p, raw, set); err != nil {
			return Settings{}, fmt.Errorf("feed %s parameter %s: %w", d.ID, p.Name, err)
		}
	}
	return s, nil
}

func (d *Definition) parameterNames() []string {
	out := make([]string, len(d.Parameters))
	for i, p := range d.Parameters {
		out[i] = p.Name
	}
	if len(out) == 0 {
		return []string{"(none)"}
	}
	return out
}

func (s *Settings) resolve(d *Definition, p Parameter, raw string, set bool) error {
	switch p.Type {
	case ParamNumber:
		v, _ := toFloat(p.Default)
		if set {
			f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
			if err != nil || f != f {
				return fmt.Errorf("%q is not a number", raw)
			}
			v = f
		}
		if (p.Min != nil && v < *p.Min) || (p.Max != nil && v > *p.Max) {
			return fmt.Errorf("%v is outside %s", v, bounds(p.Min, p.Max))
		}
		s.numbers[p.Name] = v
	case ParamBoolean:
		v, _ := p.Default.(bool)
		if set {
			b, ok := parseBool(raw)
			if !ok {
				return fmt.Errorf("%q is not true or false", raw)
			}
			v = b
		}
		s.bools[p.Name] = v
	case ParamText:
		v, _ := p.Default.(string)
		if set {
			v = strings.TrimSpace(raw)
		}
		if p.Choices != nil {
			i := slices.IndexFunc(p.Choices, func(c string) bool { return strings.EqualFold(c, v) })
			if i < 0 {
				return fmt.Errorf("%q is not one of %s", v, strings.Join(p.Choices, ", "))
			}
			v = p.Choices[i]
		}
		s.texts[p.Name] = v
	case ParamList, ParamAttributes:
		v := defaultList(p.Default)
		if set {
			v = splitList(raw)
		}
		if p.Type == ParamAttributes {
			var err error
			if v, err = d.attributeSelection(v); err != nil {
				return err
			}
		}
		s.lists[p.Name] = v
	}
	return nil
}

func bounds(lo, hi *float64) string {
	switch {
	case lo != nil && hi != nil:
		return fmt.Sprintf("%v to %v", *lo, *hi)
	case lo != nil:
		return fmt.Sprintf("%v or more", *lo)
	}
	return fmt.Sprintf("%v or less", *hi)
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "yes", "y":
		return true, true
	case "0", "f", "false", "off", "no", "n", "":
		return false, true
	}
	return false, false
}

func defaultList(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// splitList splits a comma- or line-separated list, trimming blanks and
// leaving out empty items.
func splitList(s string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// attributeSelection canonicalises a selection of attribute names
// (case-insensitive; "all" alone selects every mapped attribute).
func (d *Definition) attributeSelection(names []string) ([]string, error) {
	if len(names) == 1 && strings.EqualFold(names[0], "all") {
		out := make([]string, len(d.Attributes))
		for i, a := range d.Attributes {
			out[i] = a.Name
		}
		return out, nil
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		i := slices.IndexFunc(d.Attributes, func(a Attribute) bool { return strings.EqualFold(a.Name, n) })
		if i < 0 {
			return nil, fmt.Errorf("%q is not an attribute of this feed; choose from %s, or all", n, strings.Join(d.AttributeNames()[:len(d.Attributes)], ", "))
		}
		if !slices.Contains(out, d.Attributes[i].Name) {
			out = append(out, d.Attributes[i].Name)
		}
	}
	return out, nil
}
