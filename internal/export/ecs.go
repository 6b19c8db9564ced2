package export

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"

	"forewarn/internal/indicator"
)

// The ECS document forewarn writes per indicator: an enrichment event of
// category threat and type indicator, the fields Elastic's threat
// intelligence integrations fill (see testdata/ecs for the field
// reference the test checks them against).
type ecsDoc struct {
	Timestamp string    `json:"@timestamp"`
	Event     ecsEvent  `json:"event"`
	Threat    ecsThreat `json:"threat"`
}

type ecsEvent struct {
	Kind     string   `json:"kind"`
	Category []string `json:"category"`
	Type     []string `json:"type"`
}

type ecsThreat struct {
	Feed      ecsFeed      `json:"feed"`
	Indicator ecsIndicator `json:"indicator"`
}

type ecsFeed struct {
	Name string `json:"name"`
}

type ecsIndicator struct {
	Type        string     `json:"type"`
	IP          string     `json:"ip"`
	FirstSeen   string     `json:"first_seen"`
	LastSeen    string     `json:"last_seen"`
	ModifiedAt  string     `json:"modified_at"`
	Confidence  string     `json:"confidence"`
	Provider    string     `json:"provider"`
	Description string     `json:"description,omitempty"`
	Marking     ecsMarking `json:"marking"`
}

type ecsMarking struct {
	TLP string `json:"tlp"`
}

var (
	ecsCategory = []string{"threat"}
	ecsType     = []string{"indicator"}
)

// writeECS writes NDJSON, one ECS threat indicator document per address.
// @timestamp is the export's time, the same on every document: an
// indicator match rule whose indicator query keeps only the latest export
// (say @timestamp >= now-2h, fetching hourly) stops matching an indicator
// as soon as forewarn stops listing it. The other times come from the store.
func writeECS(ctx context.Context, w io.Writer, src Source, o Options) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	tlp := strings.ToUpper(o.tlp())
	stamp := ecsTime(o.now())
	return each(ctx, src, ECS, o, func(s *selected) error {
		ind := s.ind
		first, last := seenRange(s)
		typ := "ipv4-addr"
		if !s.addr.Unmap().Is4() {
			typ = "ipv6-addr"
		}
		confidence := "Not Specified"
		if s.hasImportance {
			confidence = indicator.NormalizeImportance(s.importance)
		}
		provider := strings.Join(ind.Sources, ",")
		if provider == "" {
			provider = "forewarn"
		}
		return enc.Encode(ecsDoc{
			Timestamp: stamp,
			Event:     ecsEvent{Kind: "enrichment", Category: ecsCategory, Type: ecsType},
			Threat: ecsThreat{
				Feed: ecsFeed{Name: "forewarn " + provider},
				Indicator: ecsIndicator{
					Type: typ, IP: s.addr.String(),
					FirstSeen: ecsTime(first), LastSeen: ecsTime(last), ModifiedAt: ecsTime(ind.UpdatedAt),
					Confidence: confidence, Provider: provider, Description: describe(s),
					Marking: ecsMarking{TLP: tlp},
				},
			},
		})
	})
}

func ecsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

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

// describe is why the indicator is listed, in words: its categories,
// importance, cluster and predicted netblock.
func describe(s *selected) string {
	parts := make([]string, 0, 4)
	if cats := joined(s.ind, indicator.AttrDetectedCategories, ", "); cats != "" {
		parts = append(parts, "categories "+cats)
	}
	if v := joined(s.ind, indicator.AttrImportance, ","); v != "" {
		parts = append(parts, "importance "+v)
	}
	if v := joined(s.ind, indicator.AttrCluster, ","); v != "" {
		parts = append(parts, "cluster "+v)
	}
	if s.netblock.IsValid() {
		parts = append(parts, "predicted netblock "+s.netblock.String())
	}
	return strings.Join(parts, "; ")
}
