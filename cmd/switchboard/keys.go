package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/store"
)

const keysUsage = `Manage API keys in the server's database.

Usage:
  switchboard keys create --name NAME --scope SCOPE [--scope SCOPE…] [--expires DURATION] [--dsn DSN]
  switchboard keys list [--dsn DSN]
  switchboard keys revoke KEY_ID [--dsn DSN]

Scopes are procedure patterns ("petstore.v1.PetStoreService/*", "*/ListPets",
"*") or named scopes such as "admin" and "admin.read" (the admin API: no
pattern, "*" included, grants it; see docs/auth.md). 'create' prints the key alone on
stdout — it is shown once and stored only as a hash — and everything else on
stderr, so a script can capture it:

  KEY=$(switchboard keys create --name ci --scope 'petstore.v1.PetStoreService/*' --dsn sqlite:data/petstore.db)
  curl -H "Authorization: Bearer $KEY" …
`

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errUsage
	}
	switch args[0] {
	case "create":
		return keysCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return keysList(ctx, args[1:], stdout, stderr)
	case "revoke":
		return keysRevoke(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stderr, keysUsage)
		return nil
	default:
		fmt.Fprintf(stderr, "switchboard keys: unknown command %q\n\n%s", args[0], keysUsage)
		return errUsage
	}
}

type scopeList []string

func (s *scopeList) String() string     { return strings.Join(*s, ",") }
func (s *scopeList) Set(v string) error { *s = append(*s, v); return nil }

func newFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := kit.DefaultConfig().DSN
	if env, ok := os.LookupEnv(kit.EnvName("dsn")); ok {
		dsn = env
	}
	return fs, fs.String("dsn", dsn, "database DSN, as the server's -dsn (env "+kit.EnvName("dsn")+")")
}

func keysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dsn := newFlagSet("switchboard keys create", stderr)
	name := fs.String("name", "", "a name saying who or what holds the key (required)")
	var scopes scopeList
	fs.Var(&scopes, "scope", "a scope the key grants; repeat for more (at least one)")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h; 0 never expires")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: switchboard keys create --name NAME --scope SCOPE [--scope SCOPE…] [--expires DURATION] [--dsn DSN]")
		fmt.Fprintln(stderr, "Example: switchboard keys create --name ci --scope 'petstore.v1.PetStoreService/*' --expires 720h")
		fs.PrintDefaults()
	}
	if rest, err := parse(fs, args); err != nil || len(rest) > 0 {
		return usageErr(fs, err)
	}
	if strings.TrimSpace(*name) == "" || len(scopes) == 0 || *expires < 0 {
		fmt.Fprintln(stderr, "switchboard keys create: --name and at least one --scope are required; --expires must not be negative")
		return usageErr(fs, nil)
	}
	return withDB(ctx, *dsn, func(db *bun.DB) error {
		secret, key, err := store.NewAPIKey(*name, scopes, *expires, time.Now())
		if err != nil {
			return err
		}
		if err := store.CreateAPIKey(ctx, db, key); err != nil {
			return fmt.Errorf("store the key: %w", err)
		}
		fmt.Fprintln(stdout, secret)
		fmt.Fprintf(stderr, "created key %s (%s) with scopes %s", key.ID, key.Name, strings.Join(key.Scopes, ", "))
		if !key.ExpiresAt.IsZero() {
			fmt.Fprintf(stderr, ", expiring %s", key.ExpiresAt.Format(time.RFC3339))
		}
		fmt.Fprintln(stderr, "\nthe key above is shown once; store it now")
		return nil
	})
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dsn := newFlagSet("switchboard keys list", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: switchboard keys list [--dsn DSN]")
		fmt.Fprintln(stderr, "Example: switchboard keys list --dsn sqlite:data/petstore.db")
		fs.PrintDefaults()
	}
	if rest, err := parse(fs, args); err != nil || len(rest) > 0 {
		return usageErr(fs, err)
	}
	return withDB(ctx, *dsn, func(db *bun.DB) error {
		keys, err := store.ListAPIKeys(ctx, db)
		if err != nil {
			return err
		}
		now := time.Now()
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tSCOPES\tSTATUS\tCREATED\tEXPIRES\tLAST USED")
		for _, k := range keys {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","),
				status(k, now), stamp(k.CreatedAt), stamp(k.ExpiresAt), stamp(k.LastUsedAt))
		}
		return w.Flush()
	})
}

func keysRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dsn := newFlagSet("switchboard keys revoke", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: switchboard keys revoke KEY_ID [--dsn DSN]")
		fmt.Fprintln(stderr, "Example: switchboard keys revoke k3jd8a2mq7xw")
		fs.PrintDefaults()
	}
	rest, err := parse(fs, args)
	if err != nil || len(rest) != 1 {
		return usageErr(fs, err)
	}
	id := rest[0]
	if parsed, _, ok := store.ParseAPIKey(id); ok {
		id = parsed // a whole key was pasted: revoke it by its id
	}
	return withDB(ctx, *dsn, func(db *bun.DB) error {
		if err := store.RevokeAPIKey(ctx, db, id, time.Now()); err != nil {
			if errors.Is(err, store.ErrKeyNotFound) {
				return fmt.Errorf("no API key with id %q", id)
			}
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", id)
		fmt.Fprintln(stderr, "running servers stop accepting it within their api-key-cache-ttl (default 10s)")
		return nil
	})
}

func usageErr(fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	fs.Usage()
	return errUsage
}

// withDB opens the database, brings the kit's schema up to date (so keys can
// be made before the server first starts), and runs fn.
func withDB(ctx context.Context, dsn string, fn func(*bun.DB) error) error {
	db, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db, "switchboard", store.KitMigrations()); err != nil {
		return err
	}
	return fn(db)
}

func status(k *store.APIKey, now time.Time) string {
	switch {
	case !k.RevokedAt.IsZero():
		return "revoked"
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return "expired"
	}
	return "active"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}
