package kit_test

import (
	"regexp"
	"sync"
	"testing"

	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

var printedKey = regexp.MustCompile(`sb_[a-z0-9]+_[A-Za-z0-9_-]+`)

func startFirstKey(t *testing.T, dsn string, on bool) (*kit.Server, *kittest.Running, *kittest.SyncBuffer) {
	t.Helper()
	cfg := kittest.Config(dsn)
	cfg.FirstAdminKey = on
	out := new(kittest.SyncBuffer)
	cfg.Logger, cfg.FirstKeyOutput = kittest.Logger(t), out
	srv, err := kit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, kittest.Start(t, srv), out
}

func TestFirstAdminKey_PrintedOnceOnAnEmptyDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		srv, run, out := startFirstKey(t, dsn, true)
		key := printedKey.FindString(out.String())
		if key == "" {
			t.Fatalf("no key printed on an empty database: %q", out.String())
		}
		env := &echoEnv{srv: srv, run: run}
		if _, err := adminClient(env, key).ListApiKeys(t.Context(), &adminv1.ListApiKeysRequest{}); err != nil {
			t.Errorf("the printed key does not open the admin API: %v", err)
		}
		_ = run.Stop()

		_, run2, out2 := startFirstKey(t, dsn, true)
		if out2.String() != "" {
			t.Errorf("a second start printed %q", out2.String())
		}
		_ = run2.Stop()
	})
}

func TestFirstAdminKey_OffMakesNone(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	srv, run, out := startFirstKey(t, dsn, false)
	if out.String() != "" {
		t.Errorf("printed %q with -first-admin-key=false", out.String())
	}
	if keys, err := store.ListAPIKeys(t.Context(), srv.DB()); err != nil || len(keys) != 0 {
		t.Errorf("%d keys (%v), want none", len(keys), err)
	}
	_ = run.Stop()
}

func TestFirstAdminKey_ReplicasStartingTogetherMakeOne(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	var wg sync.WaitGroup
	outs := make([]*kittest.SyncBuffer, 3)
	for i := range outs {
		wg.Go(func() { _, _, outs[i] = startFirstKey(t, dsn, true) })
	}
	wg.Wait()
	printed := 0
	for _, o := range outs {
		if printedKey.MatchString(o.String()) {
			printed++
		}
	}
	if printed != 1 {
		t.Errorf("%d replicas printed a first key, want exactly 1", printed)
	}
}
