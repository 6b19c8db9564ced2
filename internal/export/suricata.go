package export

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// suricataCategories are the Suricata IP reputation categories forewarn
// writes: one per Seclytics detected category, and "other" for a category
// not in this list or an indicator with none. Ids are fixed (Suricata
// rules name categories by short name, and its categories file is read
// only at start) and below Suricata's maximum of 60.
var suricataCategories = []struct {
	id         int
	name, desc string
}{
	{1, "malicious", "Seclytics: predicted malicious"},
	{2, "phishing", "Seclytics: predicted phishing"},
	{3, "botnet", "Seclytics: predicted botnet"},
	{4, "backscatter", "Seclytics: predicted backscatter"},
	{5, "spam", "Seclytics: predicted spam"},
	{6, "scanner", "Seclytics: predicted scanner"},
	{7, "bruteforce", "Seclytics: predicted brute force"},
	{8, "tor", "Seclytics: predicted TOR"},
	{9, "proxy", "Seclytics: predicted proxy"},
	{10, "malware", "Seclytics: predicted malware"},
	{11, "c2", "Seclytics: predicted command and control"},
	{12, "other", "Seclytics: predicted, other or no category"},
}

const suricataOther = 12

// WriteSuricataCategories writes the categories file (id,shortname,
// description) that the suricata-iprep reputation list refers to; Suricata
// reads it from reputation-categories-file.
func WriteSuricataCategories(w io.Writer) error {
	var b strings.Builder
	for _, c := range suricataCategories {
		fmt.Fprintf(&b, "%d,%s,%s\n", c.id, c.name, c.desc)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func suricataCategory(name string) int {
	for _, c := range suricataCategories {
		if c.name == name {
			return c.id
		}
	}
	return suricataOther
}

// SuricataScore maps an importance (0..100) to a Suricata reputation score
// (1..127): 1 + importance × 126 / 100, rounded, so that 0 is 1 (Suricata
// reads 0 as "no data") and 100 is 127. An indicator without an importance
// scores 1.
func SuricataScore(importance float64) int {
	if importance < 0 || math.IsNaN(importance) {
		return 1
	}
	return int(math.Round(1 + min(importance, 100)*126/100))
}

// writeSuricata writes the reputation list: "ip,category-id,score", one
// line per address and category of its Detected Categories.
func writeSuricata(ctx context.Context, w io.Writer, src Source, o Options) error {
	line := make([]byte, 0, 64)
	var ids [suricataOther + 1]bool
	return eachBrief(ctx, src, SuricataIPRep, o, func(s *brief) error {
		clear(ids[:])
		for _, v := range s.categoryItems {
			ids[suricataCategory(strings.ToLower(v))] = true
		}
		if len(s.categoryItems) == 0 {
			ids[suricataOther] = true
		}
		score := 1 // no importance: the lowest score that is not "no data"
		if s.hasImportance {
			score = SuricataScore(s.importance)
		}
		for id, on := range ids {
			if !on {
				continue
			}
			line = s.appendValue(line[:0])
			line = append(line, ',')
			line = strconv.AppendInt(line, int64(id), 10)
			line = append(line, ',')
			line = strconv.AppendInt(line, int64(score), 10)
			line = append(line, '\n')
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
		return nil
	})
}
