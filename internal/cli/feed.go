package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"forewarn/internal/feeddef"
)

// cmdFeed dispatches the feed subcommands.
func cmdFeed(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, "Usage: forewarn feed validate FILE...")
		if len(args) == 0 {
			return &ExitError{Code: 2}
		}
		return nil
	}
	switch args[0] {
	case "validate":
		return cmdFeedValidate(e, args[1:])
	}
	fmt.Fprintln(e.stderr, "Usage: forewarn feed validate FILE...")
	return &ExitError{Code: 2, Err: fmt.Errorf("unknown feed command %q", args[0])}
}

// cmdFeedValidate checks definition files: every problem is printed as
// FILE:LINE:COL: message, a valid file as FILE: ok (id, N parameters).
func cmdFeedValidate(e *env, args []string) error {
	fs := newFlags(e, "feed validate", "feed validate FILE...")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return &ExitError{Code: 2, Err: errors.New("feed validate needs at least one definition file")}
	}
	bad := 0
	for _, f := range files {
		if !validateFile(e, f) {
			bad++
		}
	}
	if bad > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d feed definitions are invalid", bad, len(files))}
	}
	return nil
}

func validateFile(e *env, name string) bool {
	src, err := readDefinition(name)
	if err != nil {
		fmt.Fprintf(e.stdout, "%s: %v\n", name, err)
		return false
	}
	d, err := feeddef.Parse(src)
	var problems feeddef.Problems
	switch {
	case errors.As(err, &problems):
		for _, p := range problems {
			fmt.Fprintf(e.stdout, "%s:%d:%d: %s\n", name, p.Line, p.Column, p.Message)
		}
		return false
	case err != nil:
		fmt.Fprintf(e.stdout, "%s: %v\n", name, err)
		return false
	}
	fmt.Fprintf(e.stdout, "%s: ok (%s, %d parameters)\n", name, d.ID, len(d.Parameters))
	return true
}

func readDefinition(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, feeddef.MaxDefinitionSize+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return src, nil
}
