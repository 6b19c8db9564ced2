package dump

import (
	"bytes"

	"github.com/valyala/fastjson"
)

// bigLine is the line length past which the JSON parser is replaced after
// use, so one huge record does not pin its buffers for the rest of the dump.
const bigLine = 64 << 10

func (d *Reader) nextNDJSON() (*Record, error) {
	for {
		line, _, err := d.lines.next(d.lines.maxLine)
		if err != nil {
			if err == errLineTooLong {
				err = lineLimitError(d.lines.lines+1, d.lines.maxLine)
			}
			return nil, d.fail(err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		lineNo := d.lines.lines
		if line[0] != '{' {
			return nil, &RowError{Line: lineNo, Reason: "not a JSON object: every line of an NDJSON dump must be one {...} object"}
		}

		if d.bigParse {
			d.parser = fastjson.Parser{}
			d.scratch = nil
		}
		d.bigParse = len(line) > bigLine
		v, err := d.parser.ParseBytes(line)
		if err != nil {
			return nil, &RowError{Line: lineNo, Reason: "invalid JSON: " + err.Error()}
		}
		obj, err := v.Object()
		if err != nil {
			return nil, &RowError{Line: lineNo, Reason: "not a JSON object: every line of an NDJSON dump must be one {...} object"}
		}

		rec := &d.rec
		*rec = Record{Line: lineNo}
		d.seen = [NumColumns]bool{}
		d.visitError = ""
		// Literal texts are never longer than the line they come from, so
		// with this capacity appending them does not allocate.
		if cap(d.scratch) < len(line) {
			d.scratch = make([]byte, 0, len(line))
		}
		d.scratch = d.scratch[:0]
		obj.Visit(d.visit)
		if d.visitError != "" {
			return nil, &RowError{Line: lineNo, Reason: d.visitError}
		}
		return rec, nil
	}
}

// visitField stores one key of the current object in the record. It is
// kept in d.visit so that passing it to Visit does not allocate a closure
// per row.
func (d *Reader) visitField(key []byte, v *fastjson.Value) {
	if d.visitError != "" {
		return
	}
	c := lookupColumn(key)
	if c < 0 || d.seen[c] {
		return // unknown key, or a duplicate: the first one wins as in CSV
	}
	d.seen[c] = true
	d.has[c] = true
	switch v.Type() {
	case fastjson.TypeNull:
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		d.rec.Fields[c] = trim(b)
	case fastjson.TypeNumber, fastjson.TypeTrue, fastjson.TypeFalse:
		d.rec.Fields[c] = d.literal(v)
	case fastjson.TypeArray:
		elems, _ := v.Array()
		list := d.lists[c][:0]
		for _, e := range elems {
			switch e.Type() {
			case fastjson.TypeNull:
			case fastjson.TypeString:
				b, _ := e.StringBytes()
				list = append(list, trim(b))
			case fastjson.TypeNumber, fastjson.TypeTrue, fastjson.TypeFalse:
				list = append(list, d.literal(e))
			default:
				d.visitError = `"` + ColumnNames[c] + `" holds an array with a nested ` + e.Type().String() +
					`: want strings, numbers or booleans`
				return
			}
		}
		d.lists[c] = list
		d.rec.Lists[c] = list
	default:
		d.visitError = `"` + ColumnNames[c] + `" holds a JSON ` + v.Type().String() +
			`: want a string, number, boolean, null or an array of strings`
	}
}

// literal returns the JSON text of a number or boolean, copied into scratch.
func (d *Reader) literal(v *fastjson.Value) []byte {
	start := len(d.scratch)
	d.scratch = v.MarshalTo(d.scratch)
	return d.scratch[start:len(d.scratch):len(d.scratch)]
}

// lookupColumn returns the column named by an NDJSON key, compared
// case-insensitively after trimming, or -1.
func lookupColumn(key []byte) Column {
	key = bytes.TrimSpace(key)
	for c, name := range ColumnNames {
		if len(key) == len(name) && equalFoldASCII(key, name) {
			return Column(c)
		}
	}
	return -1
}

// equalFoldASCII compares b with the lower-case ASCII name, ignoring the
// case of b. The caller checks that the lengths match.
func equalFoldASCII(b []byte, name string) bool {
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}
