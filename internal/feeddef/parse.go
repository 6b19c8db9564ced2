package feeddef

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// SchemaJSON is the JSON Schema (draft 2020-12) every definition is
// validated against; docs/feed-definition.schema.json holds the same bytes.
//
//go:embed schema.json
var SchemaJSON []byte

// MaxDefinitionSize is the largest definition file Parse accepts.
const MaxDefinitionSize = 1 << 20

// ErrInvalid is wrapped by every error Parse returns for a definition that
// is not valid (as opposed to one that is too large to read).
var ErrInvalid = errors.New("invalid feed definition")

// Problem is one thing wrong with a definition, at a line and column
// (both 1-based; 0 when the problem has no place, such as an empty file).
type Problem struct {
	Line, Column int
	// Path is the JSON pointer of the value concerned ("/fetch/path").
	Path    string
	Message string
}

func (p Problem) String() string {
	return fmt.Sprintf("%d:%d: %s", p.Line, p.Column, p.Message)
}

// Problems is every problem found in a definition, sorted by position. It
// is the error Parse returns; errors.Is(err, ErrInvalid) holds.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(ps, ErrInvalid) true.
func (ps Problems) Is(target error) bool { return target == ErrInvalid }

// Parse reads a YAML definition, validates it against the schema and then
// the rules a schema cannot say, and returns it. The error, if any, is
// Problems listing every problem with its line and column.
func Parse(src []byte) (*Definition, error) {
	if len(src) > MaxDefinitionSize {
		return nil, fmt.Errorf("%w: the file is %d bytes, more than the %d a definition may have", ErrInvalid, len(src), MaxDefinitionSize)
	}
	if p := checkNesting(src); p != nil {
		return nil, Problems{*p}
	}
	doc, pos, problems := toJSON(src)
	if problems != nil {
		return nil, problems
	}
	schemaProblems := validateSchema(doc, pos)
	var d Definition
	if err := yaml.UnmarshalWithOptions(src, &d); err != nil {
		if schemaProblems != nil {
			return nil, schemaProblems
		}
		// The schema admitted what the Go types refuse: a bug here, but
		// still the definition's problem to report.
		return nil, Problems{yamlProblem(err)}
	}
	problems = d.check(pos)
	if schemaProblems != nil {
		// Report the Go checks' findings too, but none about a value the
		// schema already refused (or inside it): one cause, one message.
		for _, p := range problems {
			if !underAny(p.Path, schemaProblems) {
				schemaProblems = append(schemaProblems, p)
			}
		}
		sortProblems(schemaProblems)
		return nil, schemaProblems
	}
	if problems != nil {
		return nil, problems
	}
	return &d, nil
}

// underAny reports whether ptr is the path of one of ps, inside one, or
// holds one.
func underAny(ptr string, ps Problems) bool {
	for _, p := range ps {
		if ptr == p.Path || strings.HasPrefix(ptr, p.Path+"/") || strings.HasPrefix(p.Path, ptr+"/") {
			return true
		}
	}
	return false
}

// positions maps a JSON pointer to where its value starts and, for the
// members of a mapping, where its key starts.
type positions struct {
	values, keys map[string][2]int
}

func (p *positions) at(ptr string) (int, int) {
	if lc, ok := p.values[ptr]; ok {
		return lc[0], lc[1]
	}
	// A missing member: report its parent.
	for ptr != "" {
		ptr = ptr[:strings.LastIndexByte(ptr, '/')]
		if lc, ok := p.values[ptr]; ok {
			return lc[0], lc[1]
		}
	}
	return 1, 1
}

func (p *positions) keyAt(ptr string) (int, int) {
	if lc, ok := p.keys[ptr]; ok {
		return lc[0], lc[1]
	}
	return p.at(ptr)
}

func (p *positions) has(ptr string) bool {
	_, ok := p.values[ptr]
	return ok
}

func (p *positions) problem(ptr, format string, args ...any) Problem {
	l, c := p.at(ptr)
	return Problem{Line: l, Column: c, Path: ptr, Message: fmt.Sprintf(format, args...)}
}

func (p *positions) keyProblem(ptr, format string, args ...any) Problem {
	l, c := p.keyAt(ptr)
	return Problem{Line: l, Column: c, Path: ptr, Message: fmt.Sprintf(format, args...)}
}

// toJSON turns the YAML source into the JSON value the schema validates,
// recording where each value is. Anchors, aliases, tags and merge keys are
// refused: a definition is plain data.
func toJSON(src []byte) (any, *positions, Problems) {
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, nil, Problems{yamlProblem(err)}
	}
	pos := &positions{values: map[string][2]int{}, keys: map[string][2]int{}}
	if len(f.Docs) != 1 || f.Docs[0].Body == nil {
		return nil, nil, Problems{{Line: 1, Column: 1, Message: "the file must hold exactly one YAML document, a mapping"}}
	}
	var problems Problems
	v := convert(f.Docs[0].Body, "", pos, &problems)
	if problems != nil {
		sortProblems(problems)
		return nil, nil, problems
	}
	return v, pos, nil
}

func convert(n ast.Node, ptr string, pos *positions, problems *Problems) any {
	tk := n.GetToken()
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 {
		// A block mapping's place is its first key, not its first value.
		tk = m.Values[0].Key.GetToken()
	}
	if mv, ok := n.(*ast.MappingValueNode); ok {
		tk = mv.Key.GetToken()
	}
	if tk != nil {
		pos.values[ptr] = [2]int{tk.Position.Line, tk.Position.Column}
	}
	bad := func(what string) any {
		l, c := pos.at(ptr)
		*problems = append(*problems, Problem{Line: l, Column: c, Path: ptr, Message: what + " are not supported in a feed definition: write the value out"})
		return nil
	}
	switch n := n.(type) {
	case *ast.MappingNode:
		m := make(map[string]any, len(n.Values))
		for _, mv := range n.Values {
			convertMember(mv, ptr, m, pos, problems)
		}
		return m
	case *ast.MappingValueNode:
		m := map[string]any{}
		convertMember(n, ptr, m, pos, problems)
		return m
	case *ast.SequenceNode:
		s := make([]any, len(n.Values))
		for i, e := range n.Values {
			s[i] = convert(e, ptr+"/"+strconv.Itoa(i), pos, problems)
		}
		return s
	case *ast.AnchorNode, *ast.AliasNode:
		return bad("anchors and aliases")
	case *ast.TagNode:
		return bad("tags")
	case *ast.MergeKeyNode:
		return bad("merge keys")
	case *ast.NullNode:
		return nil
	case *ast.StringNode, *ast.LiteralNode:
		return n.(ast.ScalarNode).GetValue()
	case ast.ScalarNode:
		return n.GetValue()
	}
	return bad("YAML nodes of type " + n.Type().String())
}

func convertMember(mv *ast.MappingValueNode, ptr string, m map[string]any, pos *positions, problems *Problems) {
	kt := mv.Key.GetToken()
	key := kt.Value
	if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
		l, c := kt.Position.Line, kt.Position.Column
		*problems = append(*problems, Problem{Line: l, Column: c, Path: ptr, Message: "merge keys are not supported in a feed definition: write the value out"})
		return
	}
	child := ptr + "/" + escapePointer(key)
	if _, dup := m[key]; dup {
		*problems = append(*problems, Problem{Line: kt.Position.Line, Column: kt.Position.Column, Path: child,
			Message: fmt.Sprintf("key %q appears twice: keep one", key)})
		return
	}
	pos.keys[child] = [2]int{kt.Position.Line, kt.Position.Column}
	m[key] = convert(mv.Value, child, pos, problems)
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// yamlProblem places a goccy/go-yaml error.
func yamlProblem(err error) Problem {
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil {
			return Problem{Line: tk.Position.Line, Column: tk.Position.Column, Message: ye.GetMessage()}
		}
		return Problem{Message: ye.GetMessage()}
	}
	return Problem{Message: err.Error()}
}

var schema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON))
	if err != nil {
		return nil, fmt.Errorf("read the feed definition schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("feed-definition.schema.json", doc); err != nil {
		return nil, fmt.Errorf("load the feed definition schema: %w", err)
	}
	s, err := c.Compile("feed-definition.schema.json")
	if err != nil {
		return nil, fmt.Errorf("compile the feed definition schema: %w", err)
	}
	return s, nil
})

var printer = message.NewPrinter(language.English)

func validateSchema(doc any, pos *positions) Problems {
	s, err := schema()
	if err != nil {
		return Problems{{Message: err.Error()}}
	}
	err = s.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return Problems{{Message: err.Error()}}
	}
	var problems Problems
	seen := map[string]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		ptr := ""
		for _, t := range e.InstanceLocation {
			ptr += "/" + escapePointer(t)
		}
		for _, p := range schemaProblems(e, ptr, pos) {
			if k := p.String(); !seen[k] {
				seen[k] = true
				problems = append(problems, p)
			}
		}
	}
	walk(ve)
	sortProblems(problems)
	return problems
}

// schemaProblems words one schema violation for a person, at the value
// (or, for an unknown key, the key) concerned.
func schemaProblems(e *jsonschema.ValidationError, ptr string, pos *positions) []Problem {
	where := ptr
	if where == "" {
		where = "the definition"
	}
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		var out []Problem
		for _, name := range k.Properties {
			out = append(out, pos.keyProblem(ptr+"/"+escapePointer(name),
				"unknown key %q in %s: check its spelling in docs/feeds.md", name, where))
		}
		return out
	case *kind.Required:
		// One problem per key, placed at the object but with the key's
		// path, so checks of other members still report.
		var out []Problem
		for _, name := range k.Missing {
			p := pos.problem(ptr, "%s is missing the required key %q", where, name)
			p.Path = ptr + "/" + escapePointer(name)
			out = append(out, p)
		}
		return out
	case *kind.Enum:
		return []Problem{pos.problem(ptr, "%s: %s", ptr, k.LocalizedString(printer))}
	}
	return []Problem{pos.problem(ptr, "%s: %s", where, e.ErrorKind.LocalizedString(printer))}
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Column < ps[j].Column
	})
}
