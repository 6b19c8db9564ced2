package export

import (
	"context"
	"io"
	"unicode/utf8"

	"forewarn/internal/indicator"
)

// zeekHeader is the Intel framework's input header: tab-separated, with
// meta.url "-" (unset) because Seclytics gives no per-indicator page.
const zeekHeader = "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n"

// writeZeek writes a Zeek Intel framework file (Intel::read_files): one
// Intel::ADDR item per address. meta.desc carries the detected categories,
// importance and cluster, so an intel.log hit says why the address is
// listed.
//
// Each line is appended to one buffer reused from line to line, as
// zeekField and zeekDesc wrote it (TestRichFormatsAreEncodingJSON holds
// the two to the same bytes).
func writeZeek(ctx context.Context, w io.Writer, src Source, o Options) error {
	if _, err := io.WriteString(w, zeekHeader); err != nil {
		return err
	}
	var line, text []byte
	return each(ctx, src, ZeekIntel, o, func(s *selected) error {
		if s.network.IsValid() {
			line = s.network.AppendTo(line[:0])
			line = append(line, "\tIntel::SUBNET\t"...)
		} else {
			line = s.addr.AppendTo(line[:0])
			line = append(line, "\tIntel::ADDR\t"...)
		}
		text = text[:0]
		for i, src := range s.ind.Sources {
			if i > 0 {
				text = append(text, ',')
			}
			text = append(text, src...)
		}
		mark := len(line)
		if line = appendZeekField(line, text); string(line[mark:]) == "-" {
			line = append(line[:mark], "forewarn"...)
		}
		line = append(line, '\t')
		line = appendZeekField(line, appendZeekDesc(text[:0], s))
		line = append(line, "\t-\n"...)
		_, err := w.Write(line)
		return err
	})
}

// appendZeekDesc appends meta.desc to dst: the detected categories,
// importance, cluster and last sighting.
func appendZeekDesc(dst []byte, s *selected) []byte {
	start := len(dst)
	dst = appendPart(dst, start, "categories ", s.ind, indicator.AttrDetectedCategories, ",")
	dst = appendPart(dst, start, "importance ", s.ind, indicator.AttrImportance, ",")
	dst = appendPart(dst, start, "cluster ", s.ind, indicator.AttrCluster, ",")
	return appendPart(dst, start, "last seen ", s.ind, indicator.AttrLastSeenAt, ",")
}

// appendZeekField appends v to dst as one field of Zeek's tab-separated
// input: "-" when empty, tabs, CR and LF as spaces, and (as strings.Map,
// which wrote it before) each byte of invalid UTF-8 as U+FFFD.
func appendZeekField(dst, v []byte) []byte {
	if len(v) == 0 {
		return append(dst, '-')
	}
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c == '\t' || c == '\n' || c == '\r' {
				c = ' '
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, v[i:i+size]...)
		}
		i += size
	}
	return dst
}
