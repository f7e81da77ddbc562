package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // pure-Go SQLite, registered as "sqlite"
)

// Dialect names the SQL dialect behind a DSN.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Config tunes Open. Start from DefaultConfig; a zero field picks its
// default.
type Config struct {
	// MaxOpenConns caps the connection pool; 0 picks the dialect's default
	// (SQLite: 4, or 1 for an in-memory database; PostgreSQL: 16).
	MaxOpenConns int
	// BusyTimeout is how long SQLite waits on a locked database before it
	// reports SQLITE_BUSY; 0 is the default. Ignored by PostgreSQL.
	BusyTimeout time.Duration
	// MustExist refuses a SQLite file that does not exist yet instead of
	// creating it (tools that only read or change an existing database).
	// A PostgreSQL database must always exist.
	MustExist bool
}

// DefaultConfig returns the defaults: the dialect's pool size, a 5 s
// SQLite busy timeout.
func DefaultConfig() Config { return Config{BusyTimeout: 5 * time.Second} }

// ErrNoDatabase is returned by Open with MustExist for a SQLite file that
// does not exist.
var ErrNoDatabase = errors.New("store: no database at that path")

// ParseDSN reports the dialect of dsn and the driver-level data source name.
//
// Accepted forms:
//
//	postgres://user:pass@host:5432/db?sslmode=disable   (also postgresql://)
//	sqlite:data/app.db   sqlite:///abs/path.db   file:data/app.db   data/app.db
//	sqlite::memory:      (a private in-memory database, for tests)
func ParseDSN(dsn string) (Dialect, string, error) {
	dsn = strings.TrimSpace(dsn)
	switch {
	case dsn == "":
		return "", "", errors.New("store: empty DSN")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		if _, err := url.Parse(dsn); err != nil {
			return "", "", fmt.Errorf("store: bad PostgreSQL DSN: %w", redact(err))
		}
		return Postgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		return SQLite, strings.TrimPrefix(dsn, "sqlite://"), nil
	case strings.HasPrefix(dsn, "sqlite:"):
		return SQLite, strings.TrimPrefix(dsn, "sqlite:"), nil
	case strings.HasPrefix(dsn, "file:"):
		return SQLite, strings.TrimPrefix(dsn, "file:"), nil
	case strings.Contains(dsn, "://"):
		return "", "", fmt.Errorf("store: unsupported DSN scheme in %q (want postgres:// or a SQLite path)", scheme(dsn))
	default:
		return SQLite, dsn, nil
	}
}

// Open connects to the database named by dsn, checks that it answers, and
// returns a bun handle with the matching dialect. For SQLite it creates the
// file's directory, turns on WAL, foreign keys and a busy timeout, and takes
// the write lock at BEGIN so concurrent transactions queue instead of
// failing half-way.
func Open(ctx context.Context, dsn string, opts Config) (*bun.DB, error) {
	dialect, source, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	var db *bun.DB
	switch dialect {
	case Postgres:
		db, err = openPostgres(source, opts)
	default:
		db, err = openSQLite(source, opts)
	}
	if err != nil {
		return nil, err
	}
	return answering(ctx, db, string(dialect)+" database")
}

// answering returns db once it answers a ping (within 10 s), else closes it.
func answering(ctx context.Context, db *bun.DB, what string) (*bun.DB, error) {
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ping(pingCtx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: %s does not answer: %w", what, redact(err))
	}
	return db, nil
}

// OpenReader opens a read-only pool on the database db was opened on, for
// queries outside transactions. On SQLite (WAL) its connections are
// query_only and begin deferred, so reads never queue behind a writer — not
// behind the kit's own log batches, another process holding the write lock,
// or writes failing on a full disk. PostgreSQL (MVCC) and in-memory SQLite
// need no second pool: OpenReader returns db itself, and closing it is then
// closing db, so close the reader only when it is not db.
func OpenReader(ctx context.Context, db *bun.DB, dsn string, opts Config) (*bun.DB, error) {
	dialect, source, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	path, query, _ := strings.Cut(source, "?")
	if dialect != SQLite || path == ":memory:" || strings.Contains(query, "mode=memory") {
		return db, nil
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("store: bad SQLite DSN parameters: %w", err)
	}
	params.Set("_txlock", "deferred")
	params.Add("_pragma", "query_only(1)")
	reader, err := openSQLite(path+"?"+params.Encode(), opts)
	if err != nil {
		return nil, err
	}
	return answering(ctx, reader, "SQLite read pool")
}

// DialectOf reports the dialect of an open handle.
func DialectOf(db bun.IDB) Dialect {
	if db.Dialect().Name().String() == "pg" {
		return Postgres
	}
	return SQLite
}

// ping checks the connection. A new SQLite connection switches the file to
// WAL, which needs a moment of exclusive access and can report SQLITE_BUSY
// without waiting when several processes open the file at once; that is
// retried until ctx ends.
func ping(ctx context.Context, db *bun.DB) error {
	for {
		err := db.PingContext(ctx)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func openPostgres(source string, opts Config) (*bun.DB, error) {
	sqldb, err := sql.Open("pgx", source)
	if err != nil {
		return nil, fmt.Errorf("store: open PostgreSQL: %w", redact(err))
	}
	maxOpen := opts.MaxOpenConns
	if maxOpen <= 0 {
		maxOpen = 16
	}
	sqldb.SetMaxOpenConns(maxOpen)
	sqldb.SetMaxIdleConns(maxOpen / 2)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	sqldb.SetConnMaxLifetime(time.Hour)
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

func openSQLite(source string, opts Config) (*bun.DB, error) {
	path, query, _ := strings.Cut(source, "?")
	memory := path == ":memory:" || strings.Contains(query, "mode=memory")
	if !memory && opts.MustExist {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrNoDatabase, path)
		}
	}
	if !memory {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("store: create database directory: %w", err)
			}
		}
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = DefaultConfig().BusyTimeout
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("store: bad SQLite DSN parameters: %w", err)
	}
	params.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	params.Add("_pragma", "foreign_keys(1)")
	if !memory {
		params.Add("_pragma", "journal_mode(WAL)")
		params.Add("_pragma", "synchronous(NORMAL)")
	}
	if !params.Has("_txlock") {
		params.Set("_txlock", "immediate")
	}
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite: %w", err)
	}
	maxOpen := opts.MaxOpenConns
	switch {
	case memory:
		maxOpen = 1 // every connection would otherwise see its own empty database
	case maxOpen <= 0:
		maxOpen = 4
	}
	sqldb.SetMaxOpenConns(maxOpen)
	sqldb.SetMaxIdleConns(maxOpen)
	sqldb.SetConnMaxIdleTime(0)
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}

func scheme(dsn string) string {
	s, _, _ := strings.Cut(dsn, "://")
	return s
}

// redact removes a password from an error text that may quote the DSN.
func redact(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if u, perr := url.Parse(uerr.URL); perr == nil {
			uerr.URL = u.Redacted()
		}
	}
	return err
}

// HasKitSchema reports whether db holds the kit's tables (its migrations
// have run).
func HasKitSchema(ctx context.Context, db *bun.DB) (bool, error) {
	var n int
	var err error
	if DialectOf(db) == Postgres {
		err = db.NewRaw("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'switchboard_api_keys'").Scan(ctx, &n)
	} else {
		err = db.NewRaw("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'switchboard_api_keys'").Scan(ctx, &n)
	}
	return n > 0, err
}
