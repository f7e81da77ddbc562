// Package storetest runs a test against every SQL dialect the kit supports:
// a fresh embedded SQLite file, and a fresh PostgreSQL database created on the
// server named by SWITCHBOARD_TEST_POSTGRES_DSN.
//
// Without that variable the PostgreSQL run is skipped locally, but fails when
// CI=true: a test that is skipped in CI is not a test.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// PostgresEnv names the variable holding an admin DSN of a PostgreSQL server
// that tests may create and drop databases on.
const PostgresEnv = "SWITCHBOARD_TEST_POSTGRES_DSN"

// Each runs fn as one subtest per dialect, each with a DSN of its own empty
// database.
func Each(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteDSN(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresDSN(t)) })
}

// SQLiteDSN returns the DSN of a new SQLite file in the test's temp dir.
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
}

// PostgresDSN creates an empty database for the test, drops it when the test
// ends, and returns its DSN. It skips (or, with CI=true, fails) when no
// server is configured.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: PostgreSQL tests must run in CI (.ci/run starts a server)", PostgresEnv)
		}
		t.Skipf("%s not set; skipping the PostgreSQL run", PostgresEnv)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	name := "sbtest_" + randomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("open admin connection: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", admin)
		if err != nil {
			t.Errorf("open admin connection: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
