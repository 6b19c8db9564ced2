package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"forewarn/internal/export"
	"forewarn/internal/output"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

const outputUsage = `Usage: forewarn output COMMAND [flags]

Output profiles: a named export for one consumer (a firewall, CrowdSec,
MISP, Elastic), served by forewarn serve at /outputs/NAME with a key that
opens that profile and nothing else.

Commands:
  add NAME --format F [--max N] [--rank importance|confidence|recency]
      [--feed ID ...] [--min-sources N] [--min-confidence N] [--status S,...]
      [--aggregate] [--netblocks] [--tlp T] [--misp-attribute ip-dst|ip-src]
                        make a profile and show its key, once
  list                  every profile, its last fetch, entries and cut-off
  show NAME             one profile
  rm NAME               remove a profile (its key stops working)
  rotate-key NAME       give a profile a new key (the old one stops working)

Run forewarn output COMMAND -h for its flags.`

func cmdOutput(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, outputUsage)
		return &ExitError{Code: 2, Err: errors.New("name an output command: add, list, show, rm or rotate-key")}
	}
	switch args[0] {
	case "add":
		return outputAdd(ctx, e, args[1:])
	case "list":
		return outputList(ctx, e, args[1:])
	case "show", "rm", "rotate-key":
		return outputOne(ctx, e, args[0], args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(e.stderr, outputUsage)
		return nil
	}
	fmt.Fprintln(e.stderr, outputUsage)
	return &ExitError{Code: 2, Err: fmt.Errorf("unknown output command %q: use add, list, show, rm or rotate-key", args[0])}
}

func outputAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "output add", "output add NAME --format F [--max N] [--rank importance|confidence|recency] [--feed ID ...] "+
		"[--min-sources N] [--min-confidence N] [--status S,...] "+
		"[--aggregate] [--netblocks] [--tlp T] [--misp-attribute ip-dst|ip-src] [--db FILE]")
	db := dbFlag(e, fs)
	var spec output.Spec
	format := fs.String("format", "", "the export format: "+export.FormatNames())
	fs.IntVar(&spec.Max, "max", 0, "the budget: at most N entries, the best by --rank (0: no budget)")
	fs.StringVar(&spec.Rank, "rank", "", "what the budget keeps: importance (the default), confidence (the highest combined confidence) or recency (the latest changed)")
	fs.Func("feed", "keep indicators this feed lists now (its id; seclytics for Seclytics); repeat, or separate with commas, for any of several", func(v string) error {
		spec.Feeds = append(spec.Feeds, splitList(v)...)
		return nil
	})
	fs.IntVar(&spec.MinSources, "min-sources", 0, "keep indicators at least this many feeds list now")
	fs.Func("min-confidence", "keep indicators whose combined confidence is at least this (0-100)", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("give a whole number from 0 to 100")
		}
		spec.MinConfidence = &n
		return nil
	})
	statuses := fs.String("status", "", "statuses listed, comma-separated (default Active; a budget ranks Active only)")
	fs.BoolVar(&spec.Aggregate, "aggregate", false, "edl: the minimal set of CIDRs")
	fs.BoolVar(&spec.Netblocks, "netblocks", false, "edl: the predicted netblocks instead of addresses")
	fs.StringVar(&spec.TLP, "tlp", "", "ecs, misp-feed: the TLP marking: "+strings.Join(export.TLPs, ", ")+" (default amber)")
	fs.StringVar(&spec.MISPAttribute, "misp-attribute", "", "misp-feed: ip-dst (default) or ip-src")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return &ExitError{Code: 2, Err: errors.New("give the profile's name: forewarn output add NAME --format F")}
	}
	spec.Format = export.Format(*format)
	if spec.Statuses, err = parseStatuses(*statuses); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, actor := operations(e, st)
	key, o, err := svc.CreateOutput(ctx, actor, pos[0], spec)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w (forewarn output list shows the names in use)", err)
	}
	if err != nil {
		return usageError(fs, err)
	}
	fmt.Fprintf(e.stdout, "created output %s (%s), served by forewarn serve at %s, with the key:\n\n    %s\n\n", o.Name, describeSpec(o.Spec), servedAt(o), key)
	fmt.Fprintln(e.stdout, "This is the only time the key is shown: store it now. It opens this output and nothing else.")
	fmt.Fprintln(e.stdout, "Send it as  Authorization: Bearer KEY, as the password of basic auth, or as ?key=KEY (which shows in access logs).")
	return nil
}

func servedAt(o service.Output) string {
	if o.Spec.Format.Directory() {
		return "/outputs/" + o.Name + "/manifest.json (a MISP feed: add /outputs/" + o.Name + " as the feed's URL)"
	}
	return "/outputs/" + o.Name
}

// describeSpec is a profile's spec in a few words.
func describeSpec(s output.Spec) string {
	parts := []string{string(s.Format)}
	if s.Max > 0 {
		rank := s.Rank
		if rank == "" {
			rank = "importance"
		}
		parts = append(parts, fmt.Sprintf("at most %d by %s", s.Max, rank))
	}
	if len(s.Feeds) > 0 {
		parts = append(parts, "listed by "+strings.Join(s.Feeds, " or "))
	}
	if s.MinSources > 0 {
		parts = append(parts, fmt.Sprintf("at least %d sources", s.MinSources))
	}
	if s.MinConfidence != nil {
		parts = append(parts, fmt.Sprintf("confidence at least %d", *s.MinConfidence))
	}
	if len(s.Statuses) > 0 {
		var st []string
		for _, x := range s.Statuses {
			st = append(st, string(x))
		}
		parts = append(parts, "statuses "+strings.Join(st, ","))
	}
	if s.Aggregate {
		parts = append(parts, "aggregated")
	}
	if s.Netblocks {
		parts = append(parts, "netblocks")
	}
	if s.TLP != "" {
		parts = append(parts, "tlp "+s.TLP)
	}
	if s.MISPAttribute != "" {
		parts = append(parts, s.MISPAttribute)
	}
	return strings.Join(parts, ", ")
}

func outputList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "output list", "output list [--db FILE]")
	db := dbFlag(e, fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, _ := operations(e, st)
	all, err := svc.Outputs(ctx)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		fmt.Fprintln(e.stdout, "no outputs yet: forewarn output add NAME --format F makes one")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSPEC\tKEY\tLAST FETCHED\tBY\tENTRIES\tCUT-OFF")
	for _, o := range all {
		fmt.Fprintf(tw, "%s\t%s\tfwo_%s…\t%s\t%s\t%s\t%s\n", o.Name, describeSpec(o.Spec), o.KeyPrefix, fetched(o), dash(o.FetchedBy), entries(o), dash(o.CutOff))
	}
	return tw.Flush()
}

func fetched(o service.Output) string {
	if o.FetchedAt == nil {
		return "never"
	}
	return o.FetchedAt.UTC().Format(time.RFC3339)
}

func entries(o service.Output) string {
	if o.FetchedAt == nil {
		return "-"
	}
	return fmt.Sprint(o.Entries)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// outputOne runs show, rm or rotate-key on one named profile.
func outputOne(ctx context.Context, e *env, cmd string, args []string) error {
	fs := newFlags(e, "output "+cmd, "output "+cmd+" NAME [--db FILE]")
	db := dbFlag(e, fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return &ExitError{Code: 2, Err: fmt.Errorf("give the profile's name: forewarn output %s NAME", cmd)}
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, actor := operations(e, st)
	name := pos[0]
	switch cmd {
	case "rm":
		if err := svc.DeleteOutput(ctx, actor, name); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "removed output %s: its key no longer works\n", name)
		return nil
	case "rotate-key":
		key, o, err := svc.RotateOutputKey(ctx, actor, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "new key for output %s (the old one no longer works):\n\n    %s\n\nThis is the only time it is shown: store it now.\n", o.Name, key)
		return nil
	}
	o, err := svc.Output(ctx, name)
	if err != nil {
		return err
	}
	return showOutput(e.stdout, o)
}

func showOutput(w io.Writer, o service.Output) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name\t%s\n", o.Name)
	fmt.Fprintf(tw, "spec\t%s\n", describeSpec(o.Spec))
	fmt.Fprintf(tw, "served at\t%s\n", servedAt(o))
	fmt.Fprintf(tw, "key\tfwo_%s… (forewarn output rotate-key %s makes a new one)\n", o.KeyPrefix, o.Name)
	fmt.Fprintf(tw, "created\t%s by %s\n", o.CreatedAt.UTC().Format(time.RFC3339), dash(o.CreatedBy))
	fmt.Fprintf(tw, "last fetched\t%s by %s\n", fetched(o), dash(o.FetchedBy))
	fmt.Fprintf(tw, "entries\t%s\n", entries(o))
	fmt.Fprintf(tw, "cut-off\t%s\n", dash(o.CutOff))
	return tw.Flush()
}
