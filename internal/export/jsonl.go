package export

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

type jsonAttribute struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

type jsonIndicator struct {
	Type       string          `json:"type"`
	Value      string          `json:"value"`
	Status     string          `json:"status"`
	Sources    []string        `json:"sources"`
	Attributes []jsonAttribute `json:"attributes"`
	CreatedAt  string          `json:"created_at"`
	UpdatedAt  string          `json:"updated_at"`
}

// writeJSONL writes one JSON object per indicator, in the source's order
// (by address), attributes sorted by name, then value. Its bytes are the
// core issue's format and must not change: stores are compared by it.
func writeJSONL(ctx context.Context, w io.Writer, src Source, o Options) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var out jsonIndicator
	return each(ctx, src, JSONL, o, func(s *selected) error {
		ind := s.ind
		out = jsonIndicator{
			Type: ind.Type, Value: s.value(), Status: string(ind.Status), Sources: ind.Sources,
			Attributes: out.Attributes[:0],
			CreatedAt:  ind.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: ind.UpdatedAt.UTC().Format(time.RFC3339),
		}
		for _, a := range ind.Attributes {
			a.Value.Texts(func(v string) { out.Attributes = append(out.Attributes, jsonAttribute{a.Name, v, a.Source}) })
		}
		return enc.Encode(&out)
	})
}
