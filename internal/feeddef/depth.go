package feeddef

import "fmt"

// MaxNesting bounds how deeply a definition's collections may nest. A
// definition needs a handful of levels; the YAML parser's time grows with
// the square of the depth, so a deeper file is refused before it is
// parsed.
const MaxNesting = 32

// checkNesting scans the source for flow collections ([ and {) nested
// deeper than MaxNesting, sequences opened on one line ("- - - x"), and
// indentation deeper than 4*MaxNesting columns. Quoted scalars and
// comments are skipped the way YAML reads them: a quote or # counts only
// at the start of a token.
func checkNesting(src []byte) *Problem {
	depth, line, col := 0, 1, 0
	atToken := true // at the start of a line or after a blank or indicator
	indent, inIndent, dashes := 0, true, 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		col++
		switch {
		case c == '\n':
			line, col, atToken, indent, inIndent, dashes = line+1, 0, true, 0, true, 0
			continue
		case inIndent && c == ' ':
			if indent++; indent > 4*MaxNesting {
				return &Problem{Line: line, Column: col, Message: fmt.Sprintf("indented more than %d columns: a feed definition nests a few levels at most", 4*MaxNesting)}
			}
			continue
		case inIndent && c == '-' && i+1 < len(src) && (src[i+1] == ' ' || src[i+1] == '\n'):
			if dashes++; dashes > MaxNesting {
				return &Problem{Line: line, Column: col, Message: fmt.Sprintf("more than %d sequences open on one line", MaxNesting)}
			}
			continue
		}
		inIndent = false
		switch {
		case atToken && (c == '"' || c == '\''):
			i = skipQuoted(src, i, &line, &col)
		case atToken && c == '#':
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case c == '[' || c == '{':
			if depth++; depth > MaxNesting {
				return &Problem{Line: line, Column: col, Message: fmt.Sprintf("collections nested more than %d deep: a feed definition nests a few levels at most", MaxNesting)}
			}
		case c == ']' || c == '}':
			if depth > 0 {
				depth--
			}
		}
		atToken = c == ' ' || c == '\t' || c == '[' || c == '{' || c == ',' || c == ':'
	}
	return nil
}

// skipQuoted returns the index of the quote that closes the scalar
// opening at i (a doubled single quote escapes one; a backslash escapes
// in double quotes),
// counting lines on the way.
func skipQuoted(src []byte, i int, line, col *int) int {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		*col++
		switch c := src[j]; {
		case c == '\n':
			*line, *col = *line+1, 0
		case q == '"' && c == '\\':
			j++
			*col++
		case c == q && q == '\'' && j+1 < len(src) && src[j+1] == '\'':
			j++
			*col++
		case c == q:
			return j
		}
	}
	return len(src)
}
