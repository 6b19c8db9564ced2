package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"forewarn/internal/buildinfo"
	"forewarn/internal/feed"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

// ExitError carries a specific exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// env is what every command gets.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"feeds", "list the feeds: id, title, enabled, schedule, last run, indicators", cmdFeeds},
		{"run", "run a feed once: forewarn run FEED [flags] (forewarn run alone runs seclytics)", cmdRun},
		{"demo", "ingest a demo dump from the built-in Seclytics server into ./forewarn-demo.db", cmdDemo},
		{"lookup", "show what the store knows about IP addresses", cmdLookup},
		{"match", "look through logs (Zeek, eve.json, access logs, CSV, text) for known addresses", cmdMatch},
		{"report", "report on the predictions: report lead-time (days before public lists confirmed them)", cmdReport},
		{"export", "write indicators as jsonl, csv, stix, edl, suricata-iprep, zeek-intel, crowdsec, ecs or a misp-feed directory", cmdExport},
		{"output", "add, list, show, remove output profiles (a served export per consumer, with its own key)", cmdOutput},
		{"runs", "show the activity log, newest first", cmdRuns},
		{"config", "show or change a feed's configuration", cmdConfig},
		{"feed", "check, add or remove a feed definition: forewarn feed validate|add FILE, feed rm ID", cmdFeed},
		{"apikey", "create, list or revoke API keys for the REST API", cmdAPIKey},
		{"allowlist", "add, remove or list ranges never to block", cmdAllowlist},
		{"fake", "serve generated Seclytics dumps and every built-in list feed at its publisher's path, on loopback", cmdFake},
		{"fake-seclytics", "the same as fake (its earlier name)", cmdFake},
		{"gen", "write a realistic generated dump, or a Zeek conn.log (gen conn-log)", cmdGen},
		{"serve", "serve the REST API and run enabled feeds on their schedule", cmdServe},
		{"version", "print the version, VCS revision, build time and Go version", cmdVersion},
	}
}

// Run runs the command line args (args[0] is the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	e := &env{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) < 2 || args[1] == "-h" || args[1] == "--help" || args[1] == "help" {
		usage(stderr)
		if len(args) < 2 {
			return &ExitError{Code: 2}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[1] {
			return c.run(ctx, e, args[2:])
		}
	}
	usage(stderr)
	return &ExitError{Code: 2, Err: fmt.Errorf("unknown command %q", args[1])}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "forewarn ingests threat-intelligence feeds into a store you own.\n\nUsage: forewarn COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-15s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun forewarn COMMAND -h for a command's flags.")
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(e *env, name, usageLine string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: forewarn %s\n\nFlags:\n", usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags placed anywhere among positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &ExitError{Code: 0}
			}
			return nil, &ExitError{Code: 2, Err: err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func dbFlag(e *env, fs *flag.FlagSet) *string {
	def := e.getenv("FOREWARN_DB")
	if def == "" {
		def = "forewarn.db"
	}
	return fs.String("db", def, "SQLite database file, or a postgres:// DSN (or set FOREWARN_DB)")
}

// logFlags adds --log-level and --log-format.
func logFlags(fs *flag.FlagSet, level string) (lvl, format *string) {
	return fs.String("log-level", level, "debug, info, warn or error"),
		fs.String("log-format", "text", "text or json")
}

func logger(e *env, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, &ExitError{Code: 2, Err: fmt.Errorf("--log-level %q: use debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	}
	return nil, &ExitError{Code: 2, Err: fmt.Errorf("--log-format %q: use text or json", format)}
}

func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10+1))
	if err != nil {
		return "", fmt.Errorf("read token file %s: %w", path, err)
	}
	if len(b) > 64<<10 {
		return "", fmt.Errorf("token file %s is larger than 64 KiB: is it the right file?", path)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}

// operations returns the use cases over st, performed by the user running
// the command ($USER, else "cli"). The command line starts no background
// runs and has no schedule to tell: serve finds changes on its own.
func operations(e *env, st *store.Store) (*service.Service, service.Actor) {
	return service.New(service.Deps{Store: st, Feeds: []string{feed.Name}}), service.CLI(e.getenv("USER"))
}

// usageError makes a refusal of the input a usage error (exit 2), after
// the command's usage; other errors are returned as they are.
func usageError(fs *flag.FlagSet, err error) error {
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		fs.Usage()
		return &ExitError{Code: 2, Err: err}
	}
	return err
}

func cmdVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "version", "version [--json]")
	asJSON := fs.Bool("json", false, "print the version as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return &ExitError{Code: 2, Err: fmt.Errorf("version takes no arguments, not %q", pos[0])}
	}
	in := buildinfo.Get()
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(in)
	}
	_, err = fmt.Fprintln(e.stdout, in)
	return err
}
