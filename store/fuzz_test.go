package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboardkit/switchboard/store"
)

func FuzzParseAPIKey(f *testing.F) {
	secret, _, err := store.NewAPIKey("seed", []string{"*"}, 0, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{secret, "", "sb_", "sb__", "sb_abc_", "sb__secret", "sb_a_b_c", "Bearer sb_x_y",
		"sb_" + strings.Repeat("a", 40) + "_x", "sb_\x00_\xff", "xb_abc_def"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, sec, ok := store.ParseAPIKey(s)
		if !ok {
			return
		}
		if "sb_"+id+"_"+sec != s || id == "" || sec == "" || strings.Contains(id, "_") || len(id) > 32 || len(sec) > 128 {
			t.Errorf("ParseAPIKey(%q) = %q, %q: not a faithful split", s, id, sec)
		}
		key := &store.APIKey{SecretHash: make([]byte, 32)}
		_ = key.Matches(sec) // constant-time compare must accept any input
	})
}

func TestNewAPIKey_RoundTrips(t *testing.T) {
	secret, key, err := store.NewAPIKey("n", []string{"*"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id, sec, ok := store.ParseAPIKey(secret)
	if !ok || id != key.ID || !key.Matches(sec) || key.Matches(sec+"x") || strings.Contains(string(key.SecretHash), sec) {
		t.Errorf("key %q does not round-trip (id %q ok %v)", secret, id, ok)
	}
	if len(sec) < 50 || !key.Usable(time.Now()) || key.Usable(time.Now().Add(2*time.Hour)) {
		t.Errorf("secret length %d or expiry wrong", len(sec))
	}
}
