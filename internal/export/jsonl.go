package export

import (
	"context"
	"io"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/jsonenc"
)

// writeJSONL writes one JSON object per indicator, in the source's order
// (by address), attributes sorted by name, then value ([] when it has
// none). Its bytes are the core issue's format and change only
// deliberately (CHANGELOG): stores are compared by it.
//
// Each object is appended to one buffer reused from line to line, byte
// for byte as encoding/json writes the struct it replaces (type, value,
// status, sources, attributes of name, value and source, created_at,
// updated_at; no HTML escaping): 10,000 lines cost a fifth of the
// reflective encoder's CPU. TestJSONLIsEncodingJSON holds it to that.
func writeJSONL(ctx context.Context, w io.Writer, src Source, o Options) error {
	var buf, text []byte
	return each(ctx, src, JSONL, o, func(s *selected) error {
		ind := s.ind
		buf = append(buf[:0], `{"type":`...)
		buf = jsonenc.AppendString(buf, ind.Type)
		buf = append(buf, `,"value":`...)
		if s.network.IsValid() {
			text = s.network.AppendTo(text[:0])
		} else {
			text = s.addr.AppendTo(text[:0])
		}
		buf = jsonenc.AppendString(buf, text)
		buf = append(buf, `,"status":`...)
		buf = jsonenc.AppendString(buf, string(ind.Status))
		buf = append(buf, `,"sources":`...)
		buf = jsonenc.AppendStrings(buf, ind.Sources, false)
		buf = append(buf, `,"attributes":`...)
		n := 0
		for i := range ind.Attributes {
			a := &ind.Attributes[i]
			item := func(v []byte) {
				if n == 0 {
					buf = append(buf, '[')
				} else {
					buf = append(buf, ',')
				}
				n++
				buf = append(buf, `{"name":`...)
				buf = jsonenc.AppendString(buf, a.Name)
				buf = append(buf, `,"value":`...)
				buf = jsonenc.AppendString(buf, v)
				buf = append(buf, `,"source":`...)
				buf = jsonenc.AppendString(buf, a.Source)
				buf = append(buf, '}')
			}
			switch a.Value.Kind {
			case indicator.KindNone:
			case indicator.KindList:
				for _, v := range a.Value.List {
					text = append(text[:0], v...)
					item(text)
				}
			default:
				text = a.Value.AppendText(text[:0])
				item(text)
			}
		}
		// An indicator without attributes has [] (until 2026-12 the
		// first ones of an export had null, a quirk of the encoder this
		// replaced).
		if n > 0 {
			buf = append(buf, ']')
		} else {
			buf = append(buf, "[]"...)
		}
		buf = append(buf, `,"created_at":"`...)
		buf = jsonenc.AppendTime(buf, ind.CreatedAt.UTC(), time.RFC3339)
		buf = append(buf, `","updated_at":"`...)
		buf = jsonenc.AppendTime(buf, ind.UpdatedAt.UTC(), time.RFC3339)
		buf = append(buf, "\"}\n"...)
		_, err := w.Write(buf)
		return err
	})
}
