package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"

	"forewarn/internal/allowlist"
	"forewarn/internal/feed"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

func cmdAllowlist(ctx context.Context, e *env, args []string) error {
	usage := func() {
		fmt.Fprintln(e.stderr, `Usage: forewarn allowlist COMMAND [flags]

Addresses never to block: an indicator in an allow-listed range is ingested
as Whitelisted, never Active. The IANA special-purpose ranges (private,
loopback, documentation, ...) are built in and on unless the feed's
allowlist_special_ranges is false.

Commands:
  add CIDR|IP [--comment TEXT] [--by NAME]   add a range; stored indicators in it become Whitelisted
  rm CIDR|IP                                 remove a range (its indicators stay Whitelisted)
  list                                       show every range, built-in ones included

Run forewarn allowlist COMMAND -h for its flags.`)
	}
	if len(args) == 0 {
		usage()
		return &ExitError{Code: 2, Err: errors.New("name an allowlist command: add, rm or list")}
	}
	switch args[0] {
	case "add":
		return allowlistAdd(ctx, e, args[1:])
	case "rm", "remove":
		return allowlistRemove(ctx, e, args[1:])
	case "list":
		return allowlistList(ctx, e, args[1:])
	case "-h", "--help", "help":
		usage()
		return nil
	}
	usage()
	return &ExitError{Code: 2, Err: fmt.Errorf("unknown allowlist command %q: use add, rm or list", args[0])}
}

// onePrefix is the single CIDR or IP argument of add and rm.
func onePrefix(fs *flag.FlagSet, pos []string, verb string) (string, error) {
	if len(pos) != 1 {
		fs.Usage()
		return "", &ExitError{Code: 2, Err: fmt.Errorf("give one CIDR or IP address to %s, such as 192.0.2.0/24", verb)}
	}
	return pos[0], nil
}

func allowlistAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "allowlist add", "allowlist add CIDR|IP [--comment TEXT] [--by NAME] [--db FILE]")
	db := dbFlag(e, fs)
	comment := fs.String("comment", "", "why the range is allow-listed")
	by := fs.String("by", e.getenv("USER"), "who adds it (default: $USER)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	cidr, err := onePrefix(fs, pos, "add")
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, _ := operations(e, st)
	entry, n, err := svc.AddAllowlistEntry(ctx, service.CLI(*by), cidr, *comment)
	if err != nil {
		return usageError(fs, err)
	}
	fmt.Fprintf(e.stdout, "added %s to the allow-list; %d stored indicators in it are now Whitelisted\n", entry.Prefix, n)
	return nil
}

func allowlistRemove(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "allowlist rm", "allowlist rm CIDR|IP [--db FILE]")
	db := dbFlag(e, fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	cidr, err := onePrefix(fs, pos, "remove")
	if err != nil {
		return err
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, actor := operations(e, st)
	p, err := svc.RemoveAllowlistEntry(ctx, actor, cidr)
	if err != nil {
		return usageError(fs, err)
	}
	fmt.Fprintf(e.stdout, "removed %s from the allow-list; its indicators stay Whitelisted until a person changes their status\n", p)
	return nil
}

func allowlistList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "allowlist list", "allowlist list [--db FILE]")
	db := dbFlag(e, fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	entries, err := st.AllowlistEntries(ctx)
	if err != nil {
		return err
	}
	cfg, _, err := st.FeedConfig(ctx, feed.Name)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CIDR\tKIND\tADDED BY\tADDED\tCOMMENT")
	for _, en := range entries {
		fmt.Fprintf(tw, "%s\tentry\t%s\t%s\t%s\n", en.Prefix, en.AddedBy, en.AddedAt.Format("2006-01-02T15:04:05Z"), en.Comment)
	}
	state := "on"
	if !cfg.AllowlistSpecialRanges {
		state = "off"
	}
	for _, en := range allowlist.Special() {
		fmt.Fprintf(tw, "%s\tbuilt-in (%s)\t\t\t%s, %s\n", en.Prefix, state, en.Comment, en.RFC)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if state == "off" {
		fmt.Fprintln(e.stdout, "built-in ranges are off: forewarn config seclytics --set allowlist_special_ranges=true turns them on")
	}
	return nil
}
