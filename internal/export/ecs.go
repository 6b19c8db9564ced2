package export

import (
	"context"
	"io"
	"strings"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/jsonenc"
)

// writeECS writes NDJSON, one ECS threat indicator document per address.
// @timestamp is the export's time, the same on every document: an
// indicator match rule whose indicator query keeps only the latest export
// (say @timestamp >= now-2h, fetching hourly) stops matching an indicator
// as soon as forewarn stops listing it. The other times come from the store.
//
// Each document is appended to one buffer reused from line to line, byte
// for byte as encoding/json wrote the struct it replaces (no HTML
// escaping; TestRichFormatsAreEncodingJSON holds the two to the same
// bytes).
func writeECS(ctx context.Context, w io.Writer, src Source, o Options) error {
	tlp := strings.ToUpper(o.tlp())
	// What every document starts with, and its marking's end.
	head := append([]byte(`{"@timestamp":`), jsonenc.AppendString(nil, appendECSTime(nil, o.now()))...)
	head = append(head, `,"event":{"kind":"enrichment","category":["threat"],"type":["indicator"]},"threat":{"feed":{"name":`...)
	tail := append(jsonenc.AppendString([]byte(`,"marking":{"tlp":`), tlp), "}}}}\n"...)
	var buf, text, provider []byte
	return each(ctx, src, ECS, o, func(s *selected) error {
		ind := s.ind
		first, last := seenRange(s)
		provider = provider[:0]
		for i, src := range ind.Sources {
			if i > 0 {
				provider = append(provider, ',')
			}
			provider = append(provider, src...)
		}
		if len(provider) == 0 {
			provider = append(provider, "forewarn"...)
		}
		buf = append(buf[:0], head...)
		text = append(append(text[:0], "forewarn "...), provider...)
		buf = jsonenc.AppendString(buf, text)
		buf = append(buf, `},"indicator":{"type":`...)
		if s.addr.Unmap().Is4() {
			buf = append(buf, `"ipv4-addr"`...)
		} else {
			buf = append(buf, `"ipv6-addr"`...)
		}
		buf = append(buf, `,"ip":`...)
		buf = jsonenc.AppendString(buf, s.addr.AppendTo(text[:0]))
		buf = append(buf, `,"first_seen":"`...)
		buf = appendECSTime(buf, first)
		buf = append(buf, `","last_seen":"`...)
		buf = appendECSTime(buf, last)
		buf = append(buf, `","modified_at":"`...)
		buf = appendECSTime(buf, ind.UpdatedAt)
		buf = append(buf, `","confidence":`...)
		if s.hasImportance {
			buf = jsonenc.AppendString(buf, indicator.NormalizeImportance(s.importance))
		} else {
			buf = append(buf, `"Not Specified"`...)
		}
		buf = append(buf, `,"provider":`...)
		buf = jsonenc.AppendString(buf, provider)
		if text = appendDescribe(text[:0], s); len(text) > 0 {
			buf = append(buf, `,"description":`...)
			buf = jsonenc.AppendString(buf, text)
		}
		buf = append(buf, tail...)
		_, err := w.Write(buf)
		return err
	})
}

func appendECSTime(dst []byte, t time.Time) []byte {
	return jsonenc.AppendTime(dst, t.UTC(), "2006-01-02T15:04:05.000Z")
}

// seenRange is when the source first and last reported the indicator:
// the earliest of Predicted At and Detected At (else when forewarn first
// stored it), and Last Seen At (else its last change), never before the
// first.
func seenRange(s *selected) (first, last time.Time) {
	first = s.ind.CreatedAt
	for _, name := range []string{indicator.AttrPredictedAt, indicator.AttrDetectedAt} {
		if t, ok := s.ind.Attr(name).AsTime(); ok && t.Before(first) {
			first = t
		}
	}
	last = s.lastSeen
	if last.IsZero() {
		last = s.ind.UpdatedAt
	}
	if last.Before(first) {
		last = first
	}
	return first, last
}

// appendDescribe appends why the indicator is listed to dst, in words:
// its categories, importance, cluster and predicted netblock.
func appendDescribe(dst []byte, s *selected) []byte {
	start := len(dst)
	dst = appendPart(dst, start, "categories ", s.ind, indicator.AttrDetectedCategories, ", ")
	dst = appendPart(dst, start, "importance ", s.ind, indicator.AttrImportance, ",")
	dst = appendPart(dst, start, "cluster ", s.ind, indicator.AttrCluster, ",")
	if s.netblock.IsValid() {
		if len(dst) > start {
			dst = append(dst, "; "...)
		}
		dst = s.netblock.AppendTo(append(dst, "predicted netblock "...))
	}
	return dst
}
