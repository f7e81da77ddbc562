package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/switchboardkit/switchboard/kit/store"
	"github.com/switchboardkit/switchboard/kit/store/storetest"
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
