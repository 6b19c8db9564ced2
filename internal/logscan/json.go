package logscan

import (
	"bytes"
	"math"
	"time"

	"github.com/valyala/fastjson"
)

// jsonParser reads one JSON object per line (Suricata eve.json, Zeek
// JSON, or any other): the time from "timestamp" (eve) or "ts" (Zeek:
// seconds since 1970, or RFC 3339), and every string value that is an
// address, named by its key path ("src_ip", "id.orig_h", "dns.answers.rdata").
// Objects and arrays are followed MaxDepth levels down.
type jsonParser struct {
	p     fastjson.Parser
	names internNames
	path  []byte
	lastT []byte
	lastV time.Time
}

// maxDepth bounds how deep nested objects and arrays are searched.
const maxDepth = 4

func newJSONParser() *jsonParser { return &jsonParser{} }

func (j *jsonParser) parse(b []byte, l *Line) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	v, err := j.p.ParseBytes(b)
	if err != nil {
		return nil // a broken line is skipped: its neighbours stand alone
	}
	o, err := v.Object()
	if err != nil {
		return nil
	}
	if t := o.Get("timestamp"); t != nil {
		j.setTime(t, l)
	} else if t := o.Get("ts"); t != nil {
		j.setTime(t, l)
	}
	j.path = j.path[:0]
	j.walk(v, l, 0)
	return nil
}

func (j *jsonParser) setTime(v *fastjson.Value, l *Line) {
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err == nil && f > 0 && f < 1e11 {
			sec, frac := math.Modf(f)
			l.Time = time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC()
		}
	case fastjson.TypeString:
		s := v.GetStringBytes()
		if bytes.Equal(s, j.lastT) {
			l.Time = j.lastV
			return
		}
		if t, ok := parseTimestamp(s); ok {
			j.lastT = append(j.lastT[:0], s...)
			j.lastV = t
			l.Time = t
		}
	}
}

// The timestamp layouts of eve.json ("2017-04-07T22:24:37.251547+0100"),
// RFC 3339 (Zeek JSON with ISO times) and zone-less local times.
var timestampLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999-0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

func parseTimestamp(s []byte) (time.Time, bool) {
	if len(s) < 19 || len(s) > 40 {
		return time.Time{}, false
	}
	str := string(s)
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, str); err == nil {
			return t.UTC(), true
		}
	}
	if t, ok := parseEpoch(s); ok {
		return t, true
	}
	return time.Time{}, false
}

func (j *jsonParser) walk(v *fastjson.Value, l *Line, depth int) {
	switch v.Type() {
	case fastjson.TypeObject:
		if depth >= maxDepth {
			return
		}
		o, _ := v.Object()
		n := len(j.path)
		o.Visit(func(key []byte, child *fastjson.Value) {
			if n > 0 {
				j.path = append(j.path[:n], '.')
			} else {
				j.path = j.path[:0]
			}
			j.path = append(j.path, key...)
			j.walk(child, l, depth+1)
		})
		j.path = j.path[:n]
	case fastjson.TypeArray:
		if depth >= maxDepth {
			return
		}
		for _, item := range v.GetArray() {
			j.walk(item, l, depth+1)
		}
	case fastjson.TypeString:
		s := v.GetStringBytes()
		if a, ok := parseAddr(s); ok {
			l.Addrs = append(l.Addrs, Address{j.names.name(j.path, "json"), a})
		}
	}
}
