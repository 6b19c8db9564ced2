package export

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"forewarn/internal/indicator"
)

// Source yields indicators in a stable order.
type Source interface {
	EachIndicator(ctx context.Context, fn func(*indicator.Indicator) error) error
}

// Formats lists the supported formats.
var Formats = []string{"jsonl"}

// Write writes every indicator of src to w in format and returns how many
// it wrote.
func Write(ctx context.Context, w io.Writer, src Source, format string) (int64, error) {
	switch strings.ToLower(format) {
	case "jsonl":
		return writeJSONL(ctx, w, src)
	}
	return 0, fmt.Errorf("unknown export format %q: choose one of %s", format, strings.Join(Formats, ", "))
}

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
// (by address), attributes sorted by name, then value.
func writeJSONL(ctx context.Context, w io.Writer, src Source) (int64, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var n int64
	var out jsonIndicator
	err := src.EachIndicator(ctx, func(ind *indicator.Indicator) error {
		out = jsonIndicator{
			Type: ind.Type, Value: ind.Value, Status: string(ind.Status), Sources: ind.Sources,
			Attributes: out.Attributes[:0],
			CreatedAt:  ind.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: ind.UpdatedAt.UTC().Format(time.RFC3339),
		}
		for _, a := range ind.Attributes {
			out.Attributes = append(out.Attributes, jsonAttribute{a.Name, a.Value, a.Source})
		}
		n++
		return enc.Encode(&out)
	})
	if err != nil {
		return n, fmt.Errorf("export jsonl: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export jsonl: %w", err)
	}
	return n, nil
}
