package logscan

import (
	"bytes"
	"fmt"
	"strings"
)

// csvParser reads CSV with a header line, one record per line (quoted
// fields may hold commas, not line breaks). The address comes from the
// named column, or from every column whose value is one; the time from a
// column named ts, time, timestamp, date, datetime or @timestamp.
type csvParser struct {
	column  string
	header  []string
	addrCol int // -1: every column
	timeCol int // -1: none
	fields  [][]byte
}

var csvTimeColumns = []string{"ts", "time", "timestamp", "@timestamp", "date", "datetime"}

func (c *csvParser) parse(b []byte, l *Line) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if c.header == nil {
		return c.readHeader(b)
	}
	c.fields = c.split(b, c.fields[:0])
	if c.timeCol >= 0 && c.timeCol < len(c.fields) {
		if t, ok := parseTimestamp(c.fields[c.timeCol]); ok {
			l.Time = t
		}
	}
	if c.addrCol >= 0 {
		if c.addrCol < len(c.fields) {
			if a, ok := parseAddr(bytes.TrimSpace(c.fields[c.addrCol])); ok {
				l.Addrs = append(l.Addrs, Address{c.header[c.addrCol], a})
			}
		}
		return nil
	}
	for i, f := range c.fields {
		if i == c.timeCol || i >= len(c.header) {
			continue
		}
		if a, ok := parseAddr(bytes.TrimSpace(f)); ok {
			l.Addrs = append(l.Addrs, Address{c.header[i], a})
		}
	}
	return nil
}

func (c *csvParser) readHeader(b []byte) error {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a BOM
	for _, f := range c.split(b, nil) {
		c.header = append(c.header, strings.TrimSpace(strings.ReplaceAll(string(f), `""`, `"`)))
	}
	c.addrCol, c.timeCol = -1, -1
	for i, h := range c.header {
		if c.timeCol < 0 {
			for _, t := range csvTimeColumns {
				if strings.EqualFold(h, t) {
					c.timeCol = i
				}
			}
		}
		if c.column != "" && h == c.column {
			c.addrCol = i
		}
	}
	if c.column != "" && c.addrCol < 0 {
		return fmt.Errorf("the CSV header has no column %q (it has %s): name one of them with --column", c.column, strings.Join(c.header, ", "))
	}
	return nil
}

// split cuts one CSV line into fields, appending to dst. A quoted field
// is returned without its outer quotes; doubled quotes inside stay
// doubled (no address contains one).
func (c *csvParser) split(b []byte, dst [][]byte) [][]byte {
	for {
		if len(b) > 0 && b[0] == '"' {
			i := 1
			for i < len(b) {
				if b[i] == '"' {
					if i+1 < len(b) && b[i+1] == '"' {
						i += 2
						continue
					}
					break
				}
				i++
			}
			dst = append(dst, b[1:min(i, len(b))])
			b = b[min(i+1, len(b)):]
			j := bytes.IndexByte(b, ',')
			if j < 0 {
				return dst
			}
			b = b[j+1:]
			continue
		}
		j := bytes.IndexByte(b, ',')
		if j < 0 {
			return append(dst, b)
		}
		dst = append(dst, b[:j])
		b = b[j+1:]
	}
}
