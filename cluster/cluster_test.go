package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardkit/switchboard/cluster"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// inbox records what one subscriber got.
type inbox struct {
	mu   sync.Mutex
	msgs []cluster.Message
	gaps []cluster.Gap
}

func (b *inbox) handler() cluster.Handler {
	return cluster.Handler{
		Message: func(m cluster.Message) { b.mu.Lock(); b.msgs = append(b.msgs, m); b.mu.Unlock() },
		Gap:     func(g cluster.Gap) { b.mu.Lock(); b.gaps = append(b.gaps, g); b.mu.Unlock() },
	}
}

func (b *inbox) count() (msgs, gaps int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs), len(b.gaps)
}

func (b *inbox) payloads() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.msgs {
		out = append(out, string(m.Payload))
	}
	return out
}

// replica is one bus on the shared database, listening until the test ends.
func replica(t *testing.T, dsn string, db *bun.DB, origin string) *cluster.Postgres {
	t.Helper()
	bus := cluster.NewPostgres(cluster.PostgresConfig{DSN: dsn, DB: db, Origin: origin, Logger: kittest.Logger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bus.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := kittest.Receive(t, done, "the listener to stop"); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	kittest.WaitFor(t, origin+" to listen", func() bool { return bus.Connected() > 0 })
	return bus
}

func openDB(t *testing.T) (string, *bun.DB) {
	t.Helper()
	dsn := storetest.PostgresDSN(t)
	db, err := store.Open(t.Context(), dsn, store.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := store.Migrate(t.Context(), db, "switchboard", store.KitMigrations()); err != nil {
		t.Fatal(err)
	}
	return dsn, db
}

func TestPostgres_EveryReplicaGetsEveryMessageInOrder(t *testing.T) {
	dsn, db := openDB(t)
	a, b := replica(t, dsn, db, "a"), replica(t, dsn, db, "b")
	var atA, atB, other inbox
	defer a.Subscribe("pets", atA.handler())()
	defer b.Subscribe("pets", atB.handler())()
	defer b.Subscribe("keys", other.handler())()
	var want []string
	for i := range 50 {
		want = append(want, fmt.Sprint(i))
		if err := a.Publish(t.Context(), "pets", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	kittest.WaitFor(t, "50 messages at both replicas", func() bool {
		n, _ := atA.count()
		m, _ := atB.count()
		return n == 50 && m == 50
	})
	for name, box := range map[string]*inbox{"a": &atA, "b": &atB} {
		if got := box.payloads(); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s got %v, want in order %v", name, got, want)
		}
		if _, gaps := box.count(); gaps != 0 {
			t.Errorf("%s: %d gaps without a disconnection", name, gaps)
		}
	}
	if n, _ := other.count(); n != 0 {
		t.Errorf("a subscriber of another topic got %d messages", n)
	}
	if m := atB.msgs[0]; m.Origin != "a" || m.Seq != 1 {
		t.Errorf("first message from %q seq %d, want a 1", m.Origin, m.Seq)
	}
}

// A payload past NOTIFY's 8000-byte limit travels as a stored row.
func TestPostgres_ALargePayloadTravelsByReference(t *testing.T) {
	dsn, db := openDB(t)
	a, b := replica(t, dsn, db, "a"), replica(t, dsn, db, "b")
	_ = a
	var got inbox
	defer b.Subscribe("big", got.handler())()
	big := bytes.Repeat([]byte("0123456789"), 10_000) // 100 KB
	if err := a.Publish(t.Context(), "big", big); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(t.Context(), "big", []byte("small")); err != nil {
		t.Fatal(err)
	}
	kittest.WaitFor(t, "both messages", func() bool { n, _ := got.count(); return n == 2 })
	if p := got.payloads(); p[0] != string(big) || p[1] != "small" {
		t.Errorf("payloads of %d and %d bytes, want %d and 5", len(p[0]), len(p[1]), len(big))
	}
	if n, err := db.NewSelect().Model((*store.ClusterPayload)(nil)).Count(t.Context()); err != nil || n != 1 {
		t.Errorf("%d stored payloads (%v), want the large one only", n, err)
	}
}

// The listener's connection is cut: it reconnects, subscribers are told
// they may have missed messages, and messages flow again.
func TestPostgres_ReconnectsAfterItsConnectionIsKilledAndReportsTheGap(t *testing.T) {
	dsn, db := openDB(t)
	a, b := replica(t, dsn, db, "a"), replica(t, dsn, db, "b")
	var got inbox
	defer b.Subscribe("pets", got.handler())()
	if _, err := db.ExecContext(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query ILIKE 'listen%'`); err != nil {
		t.Fatal(err)
	}
	kittest.WaitFor(t, "b to listen again", func() bool { return b.Connected() >= 2 })
	if _, gaps := got.count(); gaps != 1 || got.gaps[0].Reason != "reconnected" || got.gaps[0].Topic != "pets" {
		t.Fatalf("gaps %+v, want one: reconnected, on pets", got.gaps)
	}
	// After the reconnection, messages arrive again.
	kittest.WaitFor(t, "a message after the reconnection", func() bool {
		_ = a.Publish(t.Context(), "pets", []byte("again"))
		n, _ := got.count()
		return n > 0
	})
}

// A publisher's sequence with a hole in it (a notification lost, as when
// one was sent while a listener was away) is reported as a gap.
func TestPostgres_ASequenceWithAHoleIsAGap(t *testing.T) {
	dsn, db := openDB(t)
	b := replica(t, dsn, db, "b")
	var got, other inbox
	defer b.Subscribe("pets", got.handler())()
	defer b.Subscribe("keys", other.handler())()
	for _, seq := range []int{1, 2, 4} {
		env := fmt.Sprintf(`{"t":"pets","o":"ghost","s":%d,"p":"eA=="}`, seq)
		if _, err := db.ExecContext(t.Context(), "SELECT pg_notify(?, ?)", cluster.Channel, env); err != nil {
			t.Fatal(err)
		}
	}
	kittest.WaitFor(t, "three messages", func() bool { n, _ := got.count(); return n == 3 })
	if _, gaps := got.count(); gaps != 1 || got.gaps[0].Reason != "sequence" {
		t.Errorf("gaps %+v, want one for the hole between 2 and 4", got.gaps)
	}
	if _, gaps := other.count(); gaps != 0 {
		t.Errorf("a hole on pets was a gap on keys too: %+v", other.gaps)
	}
}

// A publish that fails takes its sequence number back: the next one
// arrives without a false gap.
func TestPostgres_AFailedPublishLeavesNoHole(t *testing.T) {
	dsn, db := openDB(t)
	a, b := replica(t, dsn, db, "a"), replica(t, dsn, db, "b")
	var got inbox
	defer b.Subscribe("pets", got.handler())()
	if err := a.Publish(t.Context(), "pets", []byte("1")); err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	if err := a.Publish(gone, "pets", []byte("lost")); err == nil {
		t.Fatal("a publish with a cancelled context succeeded")
	}
	if err := a.Publish(t.Context(), "pets", []byte("2")); err != nil {
		t.Fatal(err)
	}
	kittest.WaitFor(t, "both messages", func() bool { n, _ := got.count(); return n == 2 })
	if _, gaps := got.count(); gaps != 0 || got.msgs[1].Seq != 2 {
		t.Errorf("gaps %+v, second message seq %d; want none and 2", got.gaps, got.msgs[1].Seq)
	}
}

// A publish while the database is gone fails: the publisher knows, and can
// tell its caller.
func TestPostgres_PublishFailsWhenTheDatabaseIsGone(t *testing.T) {
	dsn, db := openDB(t)
	bus := cluster.NewPostgres(cluster.PostgresConfig{DSN: dsn, DB: db, Origin: "a"})
	_ = db.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := bus.Publish(ctx, "pets", []byte("x")); err == nil {
		t.Error("a publish on a closed database succeeded")
	}
}

func TestLocal_DeliversBeforePublishReturns(t *testing.T) {
	bus := cluster.NewLocal("only")
	var got inbox
	stop := bus.Subscribe("pets", got.handler())
	_ = bus.Publish(t.Context(), "pets", []byte("x"))
	if n, _ := got.count(); n != 1 || got.msgs[0].Origin != "only" || got.msgs[0].Seq != 1 {
		t.Errorf("got %+v", got.msgs)
	}
	stop()
	_ = bus.Publish(t.Context(), "pets", []byte("y"))
	if n, _ := got.count(); n != 1 {
		t.Error("delivered after unsubscribe")
	}
}
