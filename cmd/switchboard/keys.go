package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardkit/switchboard"
	"github.com/switchboardkit/switchboard/cluster"
	"github.com/switchboardkit/switchboard/interceptors/auth"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/store"
)

const keysUsage = `Manage API keys in the server's database.

Usage:
  switchboard keys create --name NAME --scope SCOPE [--scope SCOPE…] [--expires 30d] [--dsn DSN]
  switchboard keys list [--dsn DSN]
  switchboard keys revoke KEY_ID [--dsn DSN]

--dsn defaults to the server's own default (sqlite:data/switchboard.db, or
$SWITCHBOARD_DSN). 'list' and 'revoke' never create a database: a DSN that
names none is an error.

Scopes are procedure patterns ("petstore.v1.PetStoreService/*", "*/ListPets",
"*") or named scopes such as "admin" and "admin.read" (the admin API: no
pattern, "*" included, grants it; see docs/auth.md). 'create' prints the key alone on
stdout — it is shown once and stored only as a hash — and everything else on
stderr, so a script can capture it:

  KEY=$(switchboard keys create --name ci --scope 'petstore.v1.PetStoreService/*' --expires 30d)
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
	var expires lifetime
	fs.Var(&expires, "expires", "lifetime: 30d, 12h, 90m; 0 never expires")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: switchboard keys create --name NAME --scope SCOPE [--scope SCOPE…] [--expires DURATION] [--dsn DSN]")
		fmt.Fprintln(stderr, "Example: switchboard keys create --name ci --scope 'petstore.v1.PetStoreService/*' --expires 30d")
		fs.PrintDefaults()
	}
	rest, err := parse(fs, args)
	if err != nil {
		return usageErr(fs, err)
	}
	var problems []string
	if len(rest) > 0 {
		problems = append(problems, fmt.Sprintf("unexpected argument %q (flags only)", rest[0]))
	}
	if strings.TrimSpace(*name) == "" {
		problems = append(problems, "--name is required")
	}
	if len(scopes) == 0 {
		problems = append(problems, "at least one --scope is required")
	}
	for _, sc := range scopes {
		if err := switchboard.ValidateScope(sc); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return usageErr(fs, nil, problems...)
	}
	return withDB(ctx, *dsn, true, func(db *bun.DB) error {
		secret, key, err := store.NewAPIKey(*name, scopes, time.Duration(expires), time.Now())
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
		fmt.Fprintln(stderr, "Example: switchboard keys list --dsn postgres://app@db:5432/app")
		fs.PrintDefaults()
	}
	rest, err := parse(fs, args)
	if err != nil {
		return usageErr(fs, err)
	}
	if len(rest) > 0 {
		return usageErr(fs, nil, fmt.Sprintf("unexpected argument %q (flags only)", rest[0]))
	}
	return withDB(ctx, *dsn, false, func(db *bun.DB) error {
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
	switch {
	case err != nil:
		return usageErr(fs, err)
	case len(rest) == 0:
		return usageErr(fs, nil, "missing KEY_ID: the id `keys list` shows (or the whole key)")
	case len(rest) > 1:
		return usageErr(fs, nil, fmt.Sprintf("one KEY_ID at a time (got %d)", len(rest)))
	}
	id := rest[0]
	if parsed, _, ok := store.ParseAPIKey(id); ok {
		id = parsed // a whole key was pasted: revoke it by its id
	}
	return withDB(ctx, *dsn, false, func(db *bun.DB) error {
		if err := store.RevokeAPIKey(ctx, db, id, time.Now()); err != nil {
			if errors.Is(err, store.ErrKeyNotFound) {
				return fmt.Errorf("no API key with id %q", id)
			}
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", id)
		if store.DialectOf(db) != store.Postgres {
			fmt.Fprintln(stderr, "a running server stops accepting it within its api-key-cache-ttl (default 10s)")
			return nil
		}
		// Tell the running replicas on their cluster bus, as a server's own
		// revocation does.
		_, source, _ := store.ParseDSN(*dsn)
		origin := make([]byte, 6)
		_, _ = rand.Read(origin)
		bus := cluster.NewPostgres(cluster.PostgresConfig{DSN: source, DB: db, Origin: "cli-" + hex.EncodeToString(origin)})
		if err := bus.Publish(ctx, auth.RevokedTopic, []byte(id)); err != nil {
			fmt.Fprintf(stderr, "could not tell running servers (%v); they stop accepting it within their api-key-cache-ttl (default 10s)\n", err)
			return nil
		}
		fmt.Fprintln(stderr, "published to running servers on their cluster bus: they stop accepting it as soon as they receive it")
		return nil
	})
}

// usageErr reports a command-line mistake: one line per problem, then the
// usage, once (the flag package has already printed it for a bad flag).
func usageErr(fs *flag.FlagSet, err error, problems ...string) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(fs.Output(), "%s: %s\n", fs.Name(), p)
	}
	if err == nil {
		fs.Usage()
	}
	return errUsage
}

// withDB opens the database and runs fn. With create (keys create, which
// may run before the server ever started), a SQLite file is created and the
// kit's schema brought up to date; otherwise the database must exist and
// hold the kit's tables, and nothing is created — a mistyped --dsn is an
// error, not a new empty database.
func withDB(ctx context.Context, dsn string, create bool, fn func(*bun.DB) error) error {
	db, err := store.Open(ctx, dsn, store.Config{MustExist: !create})
	if err != nil {
		return err
	}
	defer db.Close()
	if create {
		if _, err := store.Migrate(ctx, db, "switchboard", store.KitMigrations()); err != nil {
			return err
		}
	} else if ok, err := store.HasKitSchema(ctx, db); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%s holds no Switchboard tables: is it the server's -dsn? (start the server once, or run 'keys create')", redactDSN(dsn))
	}
	return fn(db)
}

// redactDSN hides a password in a DSN shown in an error.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}

// lifetime is a duration flag that also takes days ("30d").
type lifetime time.Duration

func (l *lifetime) String() string { return time.Duration(*l).String() }
func (l *lifetime) Set(s string) error {
	d, err := parseLifetime(s)
	if err != nil {
		return err
	}
	*l = lifetime(d)
	return nil
}

// parseLifetime reads "30d", "12h", "90m", "1h30m" or "0"; negative is an
// error.
func parseLifetime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q is not a lifetime (30d, 12h, 90m)", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a lifetime (30d, 12h, 90m)", s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("a lifetime must not be negative (got %s)", s)
	}
	return d, nil
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
