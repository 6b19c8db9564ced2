package service

import (
	"context"
	"fmt"
	"io"

	"forewarn/internal/logscan"
	"forewarn/internal/retrohunt"
)

// MatchInput is one log to match: a name for messages (a file name, or
// "stdin") and its content, plain or gzip.
type MatchInput struct {
	Name string
	R    io.Reader
}

// MatchOptions say how to read the logs.
type MatchOptions struct {
	// Input forces a format ("" detects it per log): zeek, eve,
	// combined, csv or text.
	Input string
	// Column is the CSV column holding the address ("" for every column
	// that holds one).
	Column string
	// MaxLine bounds a line, in bytes (0: logscan.DefaultMaxLine).
	MaxLine int
}

// Match looks through each log for the addresses the store knows, through
// res, calling onHit for every hit in log order, and returns the summary
// of all of them. It reads each log once, streaming; it changes nothing.
func (s *Service) Match(ctx context.Context, res retrohunt.Resolver, inputs []MatchInput, opts MatchOptions, onHit func(*retrohunt.Hit) error) (retrohunt.Summary, error) {
	format, err := logscan.ParseFormat(opts.Input)
	if err != nil {
		return retrohunt.Summary{}, invalid("input", "%s", err)
	}
	if opts.MaxLine < 0 {
		return retrohunt.Summary{}, invalid("max_line", "must be a positive number of bytes, not %d", opts.MaxLine)
	}
	if len(opts.Column) > 256 {
		return retrohunt.Summary{}, invalid("column", "is %d bytes long: name a CSV column of the log's header", len(opts.Column))
	}
	h := retrohunt.New(res)
	for _, in := range inputs {
		if err := matchOne(ctx, h, in, logscan.Options{Format: format, Column: opts.Column, MaxLine: opts.MaxLine}, onHit); err != nil {
			return h.Summary(), err
		}
	}
	return h.Summary(), nil
}

func matchOne(ctx context.Context, h *retrohunt.Hunter, in MatchInput, opts logscan.Options, onHit func(*retrohunt.Hit) error) error {
	sc, err := logscan.New(in.R, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	defer sc.Close()
	if err := h.Hunt(ctx, sc, onHit); err != nil {
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	return nil
}
