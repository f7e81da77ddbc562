package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func cli(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, nil, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestKeys_CreateListRevoke(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		key, info, err := cli(t, "keys", "create", "--name", "ci", "--scope", "petstore.v1.PetStoreService/*",
			"--scope", "admin", "--expires", "720h", "--dsn", dsn)
		if err != nil {
			t.Fatalf("create: %v (%s)", err, info)
		}
		key = strings.TrimSuffix(key, "\n")
		id, _, ok := store.ParseAPIKey(key)
		if !ok || strings.Contains(key, "\n") || !strings.Contains(info, id) || strings.Contains(info, key) {
			t.Fatalf("stdout %q must be the key alone; stderr %q names the id only", key, info)
		}

		list, _, err := cli(t, "keys", "list", "--dsn", dsn)
		if err != nil || !strings.Contains(list, id) || !strings.Contains(list, "active") || strings.Contains(list, key) {
			t.Fatalf("list: %v\n%s", err, list)
		}
		if _, _, err := cli(t, "keys", "revoke", id, "--dsn", dsn); err != nil {
			t.Fatalf("revoke (flags after the id): %v", err)
		}
		list, _, _ = cli(t, "keys", "list", "--dsn", dsn)
		if !strings.Contains(list, "revoked") {
			t.Errorf("after revoke:\n%s", list)
		}
		if _, _, err := cli(t, "keys", "revoke", "nosuchkey", "--dsn", dsn); err == nil || !strings.Contains(err.Error(), "no API key") {
			t.Errorf("revoke of an unknown id: %v", err)
		}
	})
}

func TestKeys_UsageErrors(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	for _, args := range [][]string{
		{},
		{"nope"},
		{"keys"},
		{"keys", "create", "--dsn", dsn},
		{"keys", "create", "--name", "x", "--dsn", dsn},
		{"keys", "revoke", "--dsn", dsn},
		{"keys", "create", "--bogus"},
	} {
		if _, _, err := cli(t, args...); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error (exit 2)", args, err)
		}
	}
	if _, stderr, err := cli(t, "keys", "create", "--help"); err == nil || !strings.Contains(stderr, "Example:") {
		t.Errorf("--help: %v, %q; want usage with an example", err, stderr)
	}
}

func TestKeys_NeverCreatesADatabaseItIsOnlyToRead(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope", "x.db")
	for _, args := range [][]string{
		{"keys", "list", "--dsn", "sqlite:" + missing},
		{"keys", "revoke", "abc", "--dsn", "sqlite:" + missing},
	} {
		_, _, err := cli(t, args...)
		if err == nil || !errors.Is(err, store.ErrNoDatabase) {
			t.Errorf("%q: %v, want an error naming the missing database", args, err)
		}
		if _, statErr := os.Stat(filepath.Dir(missing)); statErr == nil {
			t.Fatalf("%q created %s", args, filepath.Dir(missing))
		}
	}
	// A database that exists but is not the server's: said so.
	other := storetest.SQLiteDSN(t)
	db, err := store.Open(t.Context(), other, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if _, _, err := cli(t, "keys", "list", "--dsn", other); err == nil || !strings.Contains(err.Error(), "no Switchboard tables") {
		t.Errorf("a database without the kit's tables: %v", err)
	}
}

func TestKeys_OneLinePerProblemAndUsageOnce(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	_, stderr, err := cli(t, "keys", "create", "--dsn", dsn)
	if !errors.Is(err, errUsage) || !strings.Contains(stderr, "--name is required") ||
		!strings.Contains(stderr, "at least one --scope is required") || strings.Count(stderr, "Usage:") != 1 {
		t.Errorf("create with nothing: %v\n%s", err, stderr)
	}
	_, stderr, _ = cli(t, "keys", "create", "--name", "x", "--scope", "a/b/c", "--dsn", dsn)
	if !strings.Contains(stderr, `"a/b/c"`) || strings.Contains(stderr, "--name is required") {
		t.Errorf("a bad scope: %s", stderr)
	}
	_, stderr, _ = cli(t, "keys", "create", "--name", "x", "--scope", "*", "--expires", "soon", "--dsn", dsn)
	if !strings.Contains(stderr, `"soon" is not a lifetime`) || strings.Count(stderr, "Usage:") != 1 {
		t.Errorf("a bad --expires: %s", stderr)
	}
	_, stderr, _ = cli(t, "keys", "revoke", "--dsn", dsn)
	if !strings.Contains(stderr, "missing KEY_ID") || strings.Count(stderr, "Usage:") != 1 {
		t.Errorf("revoke without an id: %s", stderr)
	}
	_, stderr, _ = cli(t, "keys", "create", "--bogus")
	if strings.Count(stderr, "Usage:") != 1 {
		t.Errorf("an unknown flag printed the usage %d times:\n%s", strings.Count(stderr, "Usage:"), stderr)
	}
}

func TestKeys_ExpiresTakesDays(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	if _, info, err := cli(t, "keys", "create", "--name", "x", "--scope", "*", "--expires", "30d", "--dsn", dsn); err != nil {
		t.Fatalf("--expires 30d: %v %s", err, info)
	}
	db, err := store.Open(t.Context(), dsn, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys, err := store.ListAPIKeys(t.Context(), db)
	if err != nil || len(keys) != 1 {
		t.Fatal(keys, err)
	}
	if got := keys[0].ExpiresAt.Sub(keys[0].CreatedAt); got != 30*24*time.Hour {
		t.Errorf("lifetime %v, want 720h", got)
	}
}

// A key revoked with the CLI on PostgreSQL is refused by a running server
// at once: the CLI tells the replicas on their cluster bus.
func TestKeys_RevokeTellsRunningServers(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	cfg := kittest.Config(dsn)
	cfg.APIKeys.CacheTTL = time.Hour // only the bus can make it forget
	cfg.Logger = kittest.Logger(t)
	srv, err := kit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := kittest.Start(t, srv)
	key := kittest.APIKey(t, srv, "doomed", "admin.read")
	overview := func() int {
		req, _ := http.NewRequest(http.MethodPost, run.URL+"/switchboard.admin.v1.AdminService/GetOverview", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	if code := overview(); code != http.StatusOK {
		t.Fatalf("before the revocation: %d", code)
	}
	id, _, _ := store.ParseAPIKey(key)
	if _, info, err := cli(t, "keys", "revoke", id, "--dsn", dsn); err != nil || !strings.Contains(info, "published to running servers") {
		t.Fatalf("revoke: %v (%s)", err, info)
	}
	kittest.WaitWithin(t, time.Second, "the server to refuse the revoked key", func() bool {
		return overview() == http.StatusUnauthorized
	})
}
