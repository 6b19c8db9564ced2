package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"forewarn/internal/apikey"
	"forewarn/internal/store"
)

func cmdAPIKey(ctx context.Context, e *env, args []string) error {
	usage := func() {
		fmt.Fprintln(e.stderr, `Usage: forewarn apikey COMMAND [flags]

Keys for the REST API (forewarn serve); clients send one as
"Authorization: Bearer KEY".

Commands:
  create --name NAME [--role read|admin|sightings] [--note TEXT]   make a key and show it, once
  list                                     show every key (never the key itself)
  revoke NAME|ID                           stop a key from working

Run forewarn apikey COMMAND -h for its flags.`)
	}
	if len(args) == 0 {
		usage()
		return &ExitError{Code: 2, Err: errors.New("name an apikey command: create, list or revoke")}
	}
	switch args[0] {
	case "create":
		return apikeyCreate(ctx, e, args[1:])
	case "list":
		return apikeyList(ctx, e, args[1:])
	case "revoke":
		return apikeyRevoke(ctx, e, args[1:])
	case "-h", "--help", "help":
		usage()
		return nil
	}
	usage()
	return &ExitError{Code: 2, Err: fmt.Errorf("unknown apikey command %q: use create, list or revoke", args[0])}
}

func apikeyCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "apikey create", "apikey create --name NAME [--role read|admin|sightings] [--note TEXT] [--db FILE]")
	db := dbFlag(e, fs)
	name := fs.String("name", "", "what the key is for, e.g. the client using it (letters, digits, - _ . @)")
	note := fs.String("note", "", "what the key is for or where it is installed, shown in the key list (one line, at most 400 bytes)")
	roleName := fs.String("role", string(apikey.RoleRead), "read (search and look up), admin (also change statuses and feeds) or sightings (only report sightings: POST /api/v1/sightings)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return &ExitError{Code: 2, Err: fmt.Errorf("unexpected argument %q: give the name with --name", pos[0])}
	}
	// Keys may be made before the first feed run: create the store if
	// needed, as forewarn config does.
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, actor := operations(e, st)
	key, k, err := svc.CreateKey(ctx, actor, *name, *roleName, *note)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w (forewarn apikey list shows the names in use)", err)
	}
	if err != nil {
		return usageError(fs, err)
	}
	w := e.stdout
	fmt.Fprintf(w, "created API key %s (id %d, role %s):\n\n", k.Name, k.ID, k.Role)
	fmt.Fprintf(w, "    %s\n\n", key)
	fmt.Fprintln(w, "This is the only time the key is shown: it cannot be shown again. Store it now.")
	fmt.Fprintln(w, "Clients send it in a header:  Authorization: Bearer KEY")
	return nil
}

func apikeyList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "apikey list", "apikey list [--db FILE]")
	db := dbFlag(e, fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return &ExitError{Code: 2, Err: fmt.Errorf("unexpected argument %q", pos[0])}
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.APIKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		fmt.Fprintln(e.stdout, "no API keys: make one with forewarn apikey create --name NAME --role read|admin")
		return nil
	}
	printKeys(e.stdout, keys)
	return nil
}

func printKeys(w io.Writer, keys []store.APIKey) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tPREFIX\tCREATED\tLAST USED\tREVOKED\tNOTE")
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, k := range keys {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s%s…\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, apikey.KeyPrefix, k.Prefix,
			k.CreatedAt.UTC().Format(time.RFC3339), when(k.LastUsedAt), when(k.RevokedAt), k.Note)
	}
	tw.Flush()
}

func apikeyRevoke(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "apikey revoke", "apikey revoke [--db FILE] NAME|ID")
	db := dbFlag(e, fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return &ExitError{Code: 2, Err: errors.New("name one key to revoke, by name or id: forewarn apikey revoke NAME|ID")}
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, actor := operations(e, st)
	k, already, err := svc.RevokeKey(ctx, actor, pos[0])
	if err != nil {
		return usageError(fs, err)
	}
	if already {
		fmt.Fprintf(e.stdout, "API key %s (id %d, %s%s…) was already revoked at %s\n", k.Name, k.ID, apikey.KeyPrefix, k.Prefix,
			k.RevokedAt.Format(time.RFC3339))
		return nil
	}
	fmt.Fprintf(e.stdout, "revoked API key %s (id %d, %s%s…): requests with it are refused from now on\n", k.Name, k.ID, apikey.KeyPrefix, k.Prefix)
	return nil
}
