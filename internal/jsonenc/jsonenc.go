package jsonenc

import "unicode/utf8"

const hex = "0123456789abcdef"

// safe[b] is true for the ASCII bytes encoding/json writes as they are
// when it does not escape HTML: all but the control characters (DEL is
// written as it is), '"' and '\\'. htmlSafe is the same without '<', '>'
// and '&'.
var safe, htmlSafe [utf8.RuneSelf]bool

func init() {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		if b == '"' || b == '\\' {
			continue
		}
		safe[b] = true
		htmlSafe[b] = b != '<' && b != '>' && b != '&'
	}
}

// AppendString appends s (a string or bytes) to dst as a JSON string, as encoding/json's
// Encoder with SetEscapeHTML(false) writes it: '"', '\\' and control
// characters escaped (\b, \f, \n, \r, \t by name, the others \u00XX),
// U+2028 and U+2029 escaped, each byte of invalid UTF-8 replaced by
// \ufffd.
func AppendString[S ~string | ~[]byte](dst []byte, s S) []byte { return appendString(dst, s, &safe) }

// AppendStringHTML is AppendString that also escapes '<', '>' and '&'
// (\u003c, \u003e, \u0026), as json.Marshal does.
func AppendStringHTML[S ~string | ~[]byte](dst []byte, s S) []byte {
	return appendString(dst, s, &htmlSafe)
}

// AppendStrings appends ss as a JSON array of strings (null when ss is
// nil, as encoding/json writes a nil slice), escaping HTML when html is
// true.
func AppendStrings(dst []byte, ss []string, html bool) []byte {
	if ss == nil {
		return append(dst, "null"...)
	}
	set := &safe
	if html {
		set = &htmlSafe
	}
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s, set)
	}
	return append(dst, ']')
}

// appendString is encoding/json's appendString (Go's encode.go) with the
// set of bytes written as they are chosen by the caller.
func appendString[S ~string | ~[]byte](dst []byte, s S, set *[utf8.RuneSelf]bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if set[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		// As encoding/json: a string of at most 4 bytes, which a []byte
		// converts to without allocating.
		c, size := utf8.DecodeRuneInString(string(s[i : i+min(len(s)-i, utf8.UTFMax)]))
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
