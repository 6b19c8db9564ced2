package export

import (
	"context"
	"io"
	"strings"

	"forewarn/internal/indicator"
)

// zeekHeader is the Intel framework's input header: tab-separated, with
// meta.url "-" (unset) because Seclytics gives no per-indicator page.
const zeekHeader = "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n"

// writeZeek writes a Zeek Intel framework file (Intel::read_files): one
// Intel::ADDR item per address. meta.desc carries the detected categories,
// importance and cluster, so an intel.log hit says why the address is
// listed.
func writeZeek(ctx context.Context, w io.Writer, src Source, o Options) error {
	if _, err := io.WriteString(w, zeekHeader); err != nil {
		return err
	}
	var b strings.Builder
	return each(ctx, src, ZeekIntel, o, func(s *selected) error {
		b.Reset()
		b.WriteString(s.value())
		if s.network.IsValid() {
			b.WriteString("\tIntel::SUBNET\t")
		} else {
			b.WriteString("\tIntel::ADDR\t")
		}
		source := zeekField(strings.Join(s.ind.Sources, ","))
		if source == "-" {
			source = "forewarn"
		}
		b.WriteString(source)
		b.WriteByte('\t')
		b.WriteString(zeekField(zeekDesc(s)))
		b.WriteString("\t-\n")
		_, err := io.WriteString(w, b.String())
		return err
	})
}

func zeekDesc(s *selected) string {
	var parts []string
	if cats := joined(s.ind, indicator.AttrDetectedCategories, ","); cats != "" {
		parts = append(parts, "categories "+cats)
	}
	if v := joined(s.ind, indicator.AttrImportance, ","); v != "" {
		parts = append(parts, "importance "+v)
	}
	if v := joined(s.ind, indicator.AttrCluster, ","); v != "" {
		parts = append(parts, "cluster "+v)
	}
	if v := joined(s.ind, indicator.AttrLastSeenAt, ","); v != "" {
		parts = append(parts, "last seen "+v)
	}
	return strings.Join(parts, "; ")
}

// zeekField makes s safe for one field of Zeek's tab-separated input:
// no tabs or newlines, and "-" (unset) when empty.
func zeekField(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
