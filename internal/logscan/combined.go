package logscan

import (
	"bytes"
	"time"
)

// combinedParser reads nginx/Apache access logs in the combined or common
// format: `client ident user [10/Oct/2000:13:55:36 -0700] "request" ...`.
// The client address is the first field; the time is the bracketed one.
type combinedParser struct {
	lastT []byte
	lastV time.Time
}

const combinedTime = "02/Jan/2006:15:04:05 -0700"

func (c *combinedParser) parse(b []byte, l *Line) error {
	sp := bytes.IndexByte(b, ' ')
	if sp <= 0 {
		return nil
	}
	if a, ok := parseAddr(b[:sp]); ok {
		l.Addrs = append(l.Addrs, Address{"client", a})
	}
	open := bytes.IndexByte(b[sp:], '[')
	if open < 0 {
		return nil
	}
	rest := b[sp+open+1:]
	end := bytes.IndexByte(rest, ']')
	if end < 0 {
		return nil
	}
	ts := rest[:end]
	if bytes.Equal(ts, c.lastT) {
		l.Time = c.lastV
		return nil
	}
	if t, err := time.Parse(combinedTime, string(ts)); err == nil {
		c.lastT = append(c.lastT[:0], ts...)
		c.lastV = t.UTC()
		l.Time = c.lastV
	}
	return nil
}

// looksCombined: an address, two more fields, then a bracketed time that
// parses, then a quoted request.
func looksCombined(b []byte) bool {
	sp := bytes.IndexByte(b, ' ')
	if sp <= 0 {
		return false
	}
	if _, ok := parseAddr(b[:sp]); !ok {
		return false
	}
	open := bytes.IndexByte(b, '[')
	end := bytes.IndexByte(b, ']')
	if open < 0 || end < open {
		return false
	}
	if _, err := time.Parse(combinedTime, string(b[open+1:end])); err != nil {
		return false
	}
	return bytes.HasPrefix(b[end+1:], []byte(` "`))
}
