package logscan

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"forewarn/internal/prediction"
)

// parseAddr parses an address field: IPv4, IPv6 (no zone), IPv4-mapped
// IPv6 as IPv4. The IPv4 path does not allocate.
func parseAddr(b []byte) (netip.Addr, bool) {
	if len(b) < 2 || len(b) > 45 {
		return netip.Addr{}, false
	}
	return prediction.ParseIP(b)
}

// parseEpoch parses Zeek's time: seconds since 1970 with an optional
// fraction ("1258531221.486539"), without allocating.
func parseEpoch(b []byte) (time.Time, bool) {
	var sec, frac int64
	digits, fdigits, dot := 0, 0, false
	for _, c := range b {
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
			if dot {
				if fdigits < 9 {
					frac = frac*10 + int64(c-'0')
					fdigits++
				}
			} else {
				if digits >= 12 {
					return time.Time{}, false
				}
				sec = sec*10 + int64(c-'0')
				digits++
			}
		default:
			return time.Time{}, false
		}
	}
	if digits == 0 {
		return time.Time{}, false
	}
	for ; fdigits < 9; fdigits++ {
		frac *= 10
	}
	return time.Unix(sec, frac).UTC(), true
}

// zeekParser reads Zeek's TSV logs: '#' lines set the separator, the
// unset and empty markers, the field names and their types; a data line
// yields ts and every field of type addr (or a set or vector of them).
// A log may hold several header blocks (concatenated logs): each applies
// to the lines after it. A line starting with '{' is Zeek JSON.
type zeekParser struct {
	sep, setSep  byte
	unset, empty []byte
	names, types []string
	cols         []zeekCol // the columns to read, in order
	headerSeen   bool
	json         *jsonParser
}

type zeekCol struct {
	idx  int
	name string
	time bool
	set  bool
}

func (z *zeekParser) parse(b []byte, l *Line) error {
	if len(b) == 0 {
		return nil
	}
	if b[0] == '#' {
		return z.header(b)
	}
	if b[0] == '{' {
		if z.json == nil {
			z.json = newJSONParser()
		}
		return z.json.parse(b, l)
	}
	if !z.headerSeen {
		return fmt.Errorf("a Zeek TSV data line before any #fields header: is this a Zeek log? (force another format with --input)")
	}
	col, start := 0, 0
	next := 0 // index into z.cols
	for next < len(z.cols) && start <= len(b) {
		end := bytes.IndexByte(b[start:], z.sep)
		if end < 0 {
			end = len(b)
		} else {
			end += start
		}
		if c := z.cols[next]; c.idx == col {
			z.field(c, b[start:end], l)
			next++
		}
		col++
		start = end + 1
	}
	return nil
}

func (z *zeekParser) field(c zeekCol, v []byte, l *Line) {
	if bytes.Equal(v, z.unset) || bytes.Equal(v, z.empty) {
		return
	}
	switch {
	case c.time:
		if t, ok := parseEpoch(v); ok {
			l.Time = t
		}
	case c.set:
		for len(v) > 0 {
			i := bytes.IndexByte(v, z.setSep)
			item := v
			if i >= 0 {
				item, v = v[:i], v[i+1:]
			} else {
				v = nil
			}
			if a, ok := parseAddr(item); ok {
				l.Addrs = append(l.Addrs, Address{c.name, a})
			}
		}
	default:
		if a, ok := parseAddr(v); ok {
			l.Addrs = append(l.Addrs, Address{c.name, a})
		}
	}
}

// header applies one '#' line.
func (z *zeekParser) header(b []byte) error {
	if z.sep == 0 {
		z.sep, z.setSep, z.unset, z.empty = '\t', ',', []byte("-"), []byte("(empty)")
	}
	if v, ok := bytes.CutPrefix(b, []byte("#separator ")); ok {
		sep, err := unescapeZeek(v)
		if err != nil || len(sep) != 1 {
			return fmt.Errorf("Zeek header %q: the separator must be one byte, such as \\x09", b)
		}
		z.sep = sep[0]
		return nil
	}
	key, val, ok := bytes.Cut(b[1:], []byte{z.sep})
	if !ok {
		return nil // a comment
	}
	switch string(key) {
	case "set_separator":
		if s, err := unescapeZeek(val); err == nil && len(s) == 1 {
			z.setSep = s[0]
		}
	case "unset_field":
		z.unset = bytes.Clone(val)
	case "empty_field":
		z.empty = bytes.Clone(val)
	case "fields":
		z.names = splitStrings(val, z.sep)
		z.types = nil
		z.headerSeen = true
		z.columns()
	case "types":
		z.types = splitStrings(val, z.sep)
		z.columns()
	}
	return nil
}

// columns picks the time and address columns: by type when #types is
// there, else by Zeek's naming (ts; id.orig_h, id.resp_h and other *_h).
func (z *zeekParser) columns() {
	z.cols = z.cols[:0]
	for i, n := range z.names {
		c := zeekCol{idx: i, name: n}
		typ := ""
		if i < len(z.types) {
			typ = z.types[i]
		}
		switch {
		case n == "ts" && (typ == "" || typ == "time"):
			c.time = true
		case typ == "addr":
		case typ == "set[addr]" || typ == "vector[addr]":
			c.set = true
		case typ == "" && (len(n) > 2 && n[len(n)-2:] == "_h" || n == "src" || n == "dst"):
		default:
			continue
		}
		z.cols = append(z.cols, c)
	}
}

func splitStrings(b []byte, sep byte) []string {
	var out []string
	for _, f := range bytes.Split(b, []byte{sep}) {
		out = append(out, string(f))
	}
	return out
}

// unescapeZeek turns Zeek's \xHH escapes into bytes.
func unescapeZeek(v []byte) ([]byte, error) {
	var out []byte
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+3 < len(v) && v[i+1] == 'x' {
			n, err := strconv.ParseUint(string(v[i+2:i+4]), 16, 8)
			if err != nil {
				return nil, err
			}
			out = append(out, byte(n))
			i += 3
			continue
		}
		out = append(out, v[i])
	}
	return out, nil
}
