package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn     string
		dialect store.Dialect
		source  string
		wantErr string
	}{
		{"postgres://u:p@127.0.0.1:5432/db?sslmode=disable", store.Postgres, "postgres://u:p@127.0.0.1:5432/db?sslmode=disable", ""},
		{"postgresql://127.0.0.1/db", store.Postgres, "postgresql://127.0.0.1/db", ""},
		{"sqlite:data/app.db", store.SQLite, "data/app.db", ""},
		{"sqlite:///var/lib/app.db", store.SQLite, "/var/lib/app.db", ""},
		{"file:data/app.db", store.SQLite, "data/app.db", ""},
		{"data/app.db", store.SQLite, "data/app.db", ""},
		{"sqlite::memory:", store.SQLite, ":memory:", ""},
		{"", "", "", "empty DSN"},
		{"mysql://u:secret@host/db", "", "", "unsupported DSN scheme"},
	} {
		dialect, source, err := store.ParseDSN(tc.dsn)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseDSN(%q) error = %v, want %q", tc.dsn, err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseDSN(%q) error leaks the password: %v", tc.dsn, err)
			}
			continue
		}
		if err != nil || dialect != tc.dialect || source != tc.source {
			t.Errorf("ParseDSN(%q) = %q, %q, %v; want %q, %q", tc.dsn, dialect, source, err, tc.dialect, tc.source)
		}
	}
}

func TestOpen_UnreachablePostgresIsAnErrorWithoutThePassword(t *testing.T) {
	_, err := store.Open(t.Context(), "postgres://user:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", store.Config{})
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}
}

type widget struct {
	bun.BaseModel `bun:"table:widgets"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Name          string `bun:"name,notnull,unique"`
}

func widgetMigrations(fail bool) *migrate.Migrations {
	m := migrate.NewMigrations()
	m.Add(migrate.Migration{
		Name: "20260101000001", Comment: "create_widgets",
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			_, err := mg.DB().NewCreateTable().Model((*widget)(nil)).Exec(ctx)
			return err
		},
	})
	m.Add(migrate.Migration{
		Name: "20260101000002", Comment: "seed",
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			if fail {
				return errors.New("boom")
			}
			_, err := mg.DB().NewInsert().Model(&widget{Name: "first"}).Exec(ctx)
			return err
		},
	})
	return m
}

func TestMigrate_AppliesOnceAndRetriesAFailedStep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db, err := store.Open(ctx, dsn, store.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()

		_, err = store.Migrate(ctx, db, "test", widgetMigrations(true))
		if err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("Migrate with a failing step: %v, want boom", err)
		}
		applied, err := store.Migrate(ctx, db, "test", widgetMigrations(false))
		if err != nil {
			t.Fatalf("Migrate after fixing the step: %v", err)
		}
		if len(applied) != 1 || applied[0] != "20260101000002" {
			t.Errorf("second run applied %v, want only the failed step", applied)
		}
		applied, err = store.Migrate(ctx, db, "test", widgetMigrations(false))
		if err != nil || len(applied) != 0 {
			t.Errorf("third run applied %v, %v; want nothing", applied, err)
		}
		n, err := db.NewSelect().Model((*widget)(nil)).Count(ctx)
		if err != nil || n != 1 {
			t.Errorf("widgets = %d, %v; want 1", n, err)
		}
	})
}

func TestMigrate_ConcurrentStartersApplyOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		const starters = 4
		var wg sync.WaitGroup
		errs := make([]error, starters)
		counts := make([]int, starters)
		for i := range starters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := store.Open(ctx, dsn, store.Config{})
				if err != nil {
					errs[i] = err
					return
				}
				defer db.Close()
				applied, err := store.Migrate(ctx, db, "test", widgetMigrations(false))
				errs[i], counts[i] = err, len(applied)
			}()
		}
		wg.Wait()
		total := 0
		for i := range starters {
			if errs[i] != nil {
				t.Errorf("starter %d: %v", i, errs[i])
			}
			total += counts[i]
		}
		if total != 2 {
			t.Errorf("migrations applied %d times in all, want 2 (each once)", total)
		}
	})
}

func TestOpen_SQLiteSettings(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(ctx, storetest.SQLiteDSN(t), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk, busy int
	if err := db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 5000 {
		t.Errorf("busy_timeout = %d, %v; want 5000", busy, err)
	}
	if store.DialectOf(db) != store.SQLite {
		t.Errorf("DialectOf = %v", store.DialectOf(db))
	}
}

func TestLogWriter_RetentionDeletesOldRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := openMigrated(t, dsn)
		old := &store.RequestLog{RequestID: "old", StartTime: time.Now().Add(-48 * time.Hour).UTC()}
		fresh := &store.RequestLog{RequestID: "fresh", StartTime: time.Now().UTC()}
		if _, err := db.NewInsert().Model(&[]*store.RequestLog{old, fresh}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		w := newLogWriter(t, db, store.WriterConfig{Retention: 24 * time.Hour})
		w.Start() // prunes at start, then hourly
		w.Enqueue(&store.RequestLog{RequestID: "new", StartTime: time.Now().UTC()})
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		var ids []string
		if err := db.NewSelect().Model((*store.RequestLog)(nil)).Column("request_id").OrderExpr("id").Scan(ctx, &ids); err != nil {
			t.Fatal(err)
		}
		if strings.Join(ids, ",") != "fresh,new" {
			t.Errorf("rows after retention = %v, want fresh,new", ids)
		}
		if st := w.Stats(); st.Written != 1 || st.Dropped != 0 || st.Failed != 0 {
			t.Errorf("stats %+v", st)
		}
		if w.Enqueue(&store.RequestLog{}) {
			t.Error("a closed writer accepted a record")
		}
	})
}

// openMigrated opens dsn with the kit's schema applied; closed when the test ends.
func openMigrated(t testing.TB, dsn string) *bun.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := store.Migrate(context.Background(), db, "switchboard", store.KitMigrations()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestLogWriter_CountedAndDroppedCallsStayInTheStatistics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := openMigrated(t, dsn)
		w := newLogWriter(t, db, store.WriterConfig{QueueSize: 2})
		now := time.Now().UTC()
		rec := func(code string) *store.RequestLog {
			return &store.RequestLog{Procedure: "a.B/C", Code: code, StartTime: now, DurationMicros: 1000}
		}
		// Not started: the queue fills after two; the third row is dropped.
		for range 3 {
			w.Enqueue(rec("ok"))
		}
		for range 5 {
			w.Count(rec("canceled"))
		}
		w.Start()
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		rows, err := db.NewSelect().Model((*store.RequestLog)(nil)).Count(ctx)
		if err != nil || rows != 2 {
			t.Fatalf("%d rows (%v), want the 2 queued", rows, err)
		}
		stats, err := store.StatsByProcedure(ctx, db, now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if s := stats["a.B/C"]; s == nil || s.Count != 8 || s.ByCode["ok"] != 3 || s.ByCode["canceled"] != 5 {
			t.Errorf("statistics %+v, want 8 calls: 3 ok (one dropped row among them), 5 canceled", s)
		}
		// Calls the client cancelled are neither errors nor latency samples.
		if s := stats["a.B/C"]; s.ErrorRate() != 0 || s.Timed != 3 || s.AvgLatency() != time.Millisecond {
			t.Errorf("error rate %v, timed %d, avg %v; want 0, 3, 1ms", s.ErrorRate(), s.Timed, s.AvgLatency())
		}
		if st := w.Stats(); st.Dropped != 1 || st.Counted != 5 {
			t.Errorf("dropped %d counted %d, want 1 and 5", st.Dropped, st.Counted)
		}
	})
}

func newLogWriter(t testing.TB, db *bun.DB, opts store.WriterConfig) *store.LogWriter {
	t.Helper()
	w, err := store.NewLogWriter(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A batch stored twice — a commit whose answer was lost, then retried or
// replayed — is stored once.
func TestLogWriter_ABatchStoredTwiceCountsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := openMigrated(t, dsn)
		w := newLogWriter(t, db, store.WriterConfig{})
		now := time.Now().UTC()
		rows := []*store.RequestLog{{Procedure: "a.B/C", Code: "ok", StartTime: now}, {Procedure: "a.B/C", Code: "ok", StartTime: now}}
		w.Count(&store.RequestLog{Procedure: "a.B/C", Code: "canceled", StartTime: now})
		if err := store.StoreBatchTwiceForTest(w, rows); err != nil {
			t.Fatal(err)
		}
		n, err := db.NewSelect().Model((*store.RequestLog)(nil)).Count(ctx)
		if err != nil || n != 2 {
			t.Fatalf("%d rows (%v), want 2", n, err)
		}
		stats, err := store.StatsByProcedure(ctx, db, now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if s := stats["a.B/C"]; s == nil || s.Count != 3 {
			t.Errorf("statistics %+v, want 3 calls (2 rows, 1 counted only), each once", s)
		}
	})
}
