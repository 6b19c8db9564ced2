package dump

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzNDJSON checks the NDJSON row decoder (fastjson plus visitField)
// against encoding/json on one object per line: a line encoding/json
// accepts as an object is a record, whose known columns (keys matched
// case-insensitively after trimming, the first occurrence winning) hold the
// trimmed string, the literal number or boolean, or the array elements that
// encoding/json sees; nested objects or arrays in a known column, and lines
// that are not valid JSON, are row errors, never fatal. Where the two
// parsers are known to differ on input that is not JSON (see
// knownLenient), only "not fatal" is checked.
func FuzzNDJSON(f *testing.F) {
	for _, seed := range []string{
		`{"ip":"198.51.100.7","importance":85,"last_seen_at":"2022-11-27T00:00:00","detected_categories":["malicious","Botnet"],"unknown":1}`,
		`{"IP":" 1.2.3.4 ","ip":"5.6.7.8","cluster":null,"detected_by":[null,1,true," a "]}`,
		`{"ip":"1.2.3.4","detected_by":[[1]]}`,
		`{"ip":"1.2.3.4","cluster":{"a":1}}`,
		`{"ip":"\u00e9\t","importance":-1.5e3}`,
		`{"ip":"1.2.3.4"} trailing`,
		`{"ip":"1.2.3.4",}`,
		`{ "importance" : 01 }`,
		`{"ip":"\ud800"}`,
		`{}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		// One line, and one the Reader sniffs as NDJSON: '{' after ASCII
		// blanks.
		if strings.ContainsAny(line, "\n\r") || !strings.HasPrefix(strings.TrimLeft(line, " \t\v\f"), "{") {
			return
		}
		r, err := NewReader(strings.NewReader(line+"\n"), Limits{MaxLine: 1 << 20})
		if err != nil {
			t.Fatalf("NewReader(%q): %v", line, err)
		}
		rec, err := r.Next()
		var rowErr *RowError
		if err != nil && !errors.As(err, &rowErr) {
			t.Fatalf("Next(%q): fatal error %v for one bad line", line, err)
		}
		if _, again := r.Next(); again != io.EOF {
			t.Fatalf("Next after the only line of %q: %v, want io.EOF", line, again)
		}

		// The Reader trims each line as bytes.TrimSpace does, Unicode
		// spaces included, before parsing it.
		want, ok := oracleNDJSON(strings.TrimSpace(line))
		lenient := knownLenient(line)
		switch {
		case !ok && err == nil && !lenient:
			t.Fatalf("accepted %q, which encoding/json refuses (or which nests in a known column)", line)
		case !ok:
			return
		case err != nil:
			if lenient {
				return
			}
			t.Fatalf("refused %q, which encoding/json accepts: %v", line, err)
		}
		if !utf8.ValidString(line) || strings.Contains(strings.ToLower(line), `\ud`) {
			return // the two replace invalid UTF-8 and lone surrogates differently
		}
		for c := range NumColumns {
			w := want[c]
			if !bytes.Equal(rec.Fields[c], w.field) && !(len(rec.Fields[c]) == 0 && len(w.field) == 0) {
				t.Fatalf("%q: %s = %q, encoding/json says %q", line, c, rec.Fields[c], w.field)
			}
			if len(rec.Lists[c]) != len(w.list) {
				t.Fatalf("%q: %s list = %q, encoding/json says %q", line, c, rec.Lists[c], w.list)
			}
			for i := range w.list {
				if !bytes.Equal(rec.Lists[c][i], w.list[i]) {
					t.Fatalf("%q: %s list = %q, encoding/json says %q", line, c, rec.Lists[c], w.list)
				}
			}
		}
	})
}

type oracleValue struct {
	field []byte
	list  [][]byte
}

// oracleNDJSON decodes one line with encoding/json the way the Reader
// should. ok is false for a line that is not a JSON object, or whose known
// column holds an object or a nested array (a row error for the Reader).
func oracleNDJSON(line string) (out [NumColumns]oracleValue, ok bool) {
	if !json.Valid([]byte(line)) {
		return out, false
	}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return out, false
	}
	var seen [NumColumns]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out, false
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return out, false
		}
		c := lookupColumn([]byte(key))
		if c < 0 || seen[c] {
			continue
		}
		seen[c] = true
		v, ok := oracleScalar(raw)
		if ok {
			out[c].field = v
			continue
		}
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return out, false // an object
		}
		list := [][]byte{}
		for _, e := range elems {
			if string(e) == "null" {
				continue
			}
			v, ok := oracleScalar(e)
			if !ok {
				return out, false // a nested array or object
			}
			list = append(list, v)
		}
		if len(list) > 0 {
			out[c].list = list
		}
	}
	return out, true
}

// oracleScalar returns a scalar's value as the Reader gives it: strings
// trimmed, numbers and booleans as their literal text, null as nil.
func oracleScalar(raw json.RawMessage) ([]byte, bool) {
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		return bytes.TrimSpace([]byte(s)), true
	case 'n':
		return nil, true
	case '{', '[':
		return nil, false
	}
	return []byte(raw), true
}

// knownLenient reports input on which fastjson is known to be more lenient
// than encoding/json: bare tokens that are not JSON numbers or literals
// (leading zeros, ".", "1.", inf, nan ...), raw control characters in
// strings and invalid escapes. Each was found by this fuzz target. Such rows
// reach the validator, which checks every field it uses, so the leniency
// cannot smuggle a bad value into the store; the target only checks that
// they are not fatal.
func knownLenient(line string) bool {
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == '"':
			i++
			for i < len(line) && line[i] != '"' {
				switch {
				case line[i] < 0x20:
					return true
				case line[i] == '\\':
					if i+1 >= len(line) {
						return true
					}
					e := line[i+1]
					if e == 'u' {
						if i+6 > len(line) || !isHex(line[i+2:i+6]) {
							return true
						}
						i += 6
						continue
					}
					if !strings.ContainsRune(`"\\/bfnrt`, rune(e)) {
						return true
					}
					i += 2
					continue
				}
				i++
			}
			i++
		case strings.IndexByte("{}[]:, \t", c) >= 0:
			i++
		default:
			j := i
			for j < len(line) && strings.IndexByte("{}[]:,\" \t", line[j]) < 0 {
				j++
			}
			tok := line[i:j]
			if tok != "true" && tok != "false" && tok != "null" && !jsonNumber.MatchString(tok) {
				return true
			}
			i = j
		}
	}
	return false
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func isHex(s string) bool {
	for i := range len(s) {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(s[i])) {
			return false
		}
	}
	return true
}
