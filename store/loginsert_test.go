package store_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// The row INSERT names every column of the model: a column added to
// RequestLog but not to the statement would be silently left empty.
func TestLogWriter_InsertNamesEveryColumn(t *testing.T) {
	db := openMigrated(t, storetest.SQLiteDSN(t))
	var model []string
	for _, f := range db.Table(reflect.TypeFor[store.RequestLog]()).Fields {
		if f.Name != "id" {
			model = append(model, f.Name)
		}
	}
	if !slices.Equal(model, store.LogColumns) {
		t.Errorf("INSERT columns %v\nmodel columns  %v", store.LogColumns, model)
	}
}

// A row written by the writer reads back field for field, on both
// dialects, and time-range queries built by bun find it (SQLite keeps
// times as text: the writer must format them as bun does).
func TestLogWriter_RowsReadBackWhole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := openMigrated(t, dsn)
		w := newLogWriter(t, db, store.WriterConfig{})
		w.Start()
		start := time.Date(2026, 11, 27, 10, 11, 12, 123_456_000, time.UTC)
		want := &store.RequestLog{
			RequestID: "0190a1b2c3d4e5f6a7b8c9d0e1f20304", Procedure: "/a.v1.S/M", Service: "a.v1.S", Method: "M",
			StreamType: "bidi", Protocol: "grpcweb", HTTPVersion: "HTTP/1.1", Code: "invalid_argument",
			ErrorMessage: "name: it's 'quoted' and ünïcode", ErrorReason: "VALIDATION_FAILED", ErrorDetails: `[{"a":1}]`,
			StartTime: start, DurationMicros: 1234, PeerIP: "::1", UserAgent: "grpc-go/1.85",
			KeyID: "k1", KeyName: "ci", RequestBytes: 10, ResponseBytes: 20, MessagesReceived: 3, MessagesSent: 4,
			RequestPayload: `{"name":"x"}`, ResponsePayload: `{}`,
		}
		sent := *want
		w.Enqueue(&sent)
		whole := &store.RequestLog{RequestID: "whole-second", StartTime: start.Truncate(time.Second).Add(time.Second)}
		w.Enqueue(whole)
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if sent != *want {
			t.Errorf("the writer changed the record it was given: %+v", sent)
		}
		got, err := store.FindRequestLog(ctx, db, want.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID == 0 {
			t.Error("no id assigned")
		}
		got.ID = 0
		got.StartTime = got.StartTime.UTC()
		if *got != *want {
			t.Errorf("read back\n%+v\nwant\n%+v", got, want)
		}
		for _, c := range []struct {
			from, to time.Time
			want     []string
		}{
			{start, start.Add(time.Microsecond), []string{want.RequestID}},
			{start.Add(time.Microsecond), start.Add(time.Hour), []string{"whole-second"}},
			{start.Add(-time.Hour), start, nil},
			{start.Add(-time.Hour), start.Add(time.Hour), []string{"whole-second", want.RequestID}},
		} {
			rows, err := store.ListRequestLogs(ctx, db, store.LogFilter{From: c.from, To: c.to}, 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range rows {
				ids = append(ids, r.RequestID)
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("rows in [%v, %v) = %v, want %v", c.from, c.to, ids, c.want)
			}
		}
	})
}

// On SQLite too, the admin API's lookups use the request log's two
// indexes, the only ones each logged call pays for.
func TestLogIndexes_SQLiteQueriesUseThem(t *testing.T) {
	ctx := t.Context()
	db := openMigrated(t, storetest.SQLiteDSN(t))
	for query, index := range map[string]string{
		"SELECT * FROM switchboard_request_logs WHERE request_id = 'x' ORDER BY id DESC LIMIT 1":                                          "switchboard_request_logs_request_id_idx",
		"SELECT * FROM switchboard_request_logs WHERE start_time >= '2026-11-27' AND start_time < '2026-11-28' ORDER BY id DESC LIMIT 51": "switchboard_request_logs_start_time_idx",
		"DELETE FROM switchboard_request_logs WHERE start_time < '2026-11-27'":                                                            "switchboard_request_logs_start_time_idx",
	} {
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		_ = rows.Close()
		used := slices.ContainsFunc(plan, func(d string) bool { return strings.Contains(d, index) })
		if !used {
			t.Errorf("%s\ndoes not use %s: %q", query, index, plan)
		}
	}
	var indexes []string
	if err := db.NewRaw("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'switchboard_request_logs' AND sql IS NOT NULL ORDER BY name").Scan(ctx, &indexes); err != nil {
		t.Fatal(err)
	}
	if want := []string{"switchboard_request_logs_request_id_idx", "switchboard_request_logs_start_time_idx"}; !slices.Equal(indexes, want) {
		t.Errorf("request log indexes %v, want %v", indexes, want)
	}
}

// BenchmarkLogWriter is the writer's cost per row: b.N records of a
// typical successful call enqueued and stored (batches of 500, with their
// rollups), on each dialect. ns/op and allocs/op are per row:
//
//	go test -run XXX -bench LogWriter -benchmem ./store/
func BenchmarkLogWriter(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			dsn := storetest.SQLiteDSN(b)
			if dialect == "postgres" {
				dsn = storetest.PostgresDSN(b)
			}
			db := openMigrated(b, dsn)
			w := newLogWriter(b, db, store.WriterConfig{QueueSize: b.N + 1})
			now := time.Now().UTC()
			recs := make([]*store.RequestLog, b.N)
			for i := range recs {
				recs[i] = &store.RequestLog{
					RequestID: fmt.Sprintf("%012x%020x", now.UnixMilli(), i), Procedure: "switchboardtest.v1.EchoService/Echo",
					Service: "switchboardtest.v1.EchoService", Method: "Echo", StreamType: "unary", Protocol: "grpc",
					HTTPVersion: "HTTP/2.0", Code: "ok", StartTime: now, DurationMicros: 120, PeerIP: "127.0.0.1",
					UserAgent: "grpc-go/1.85.0", KeyID: "k1", KeyName: "bench", RequestBytes: 7, ResponseBytes: 9,
					MessagesReceived: 1, MessagesSent: 1,
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			w.Start()
			for _, r := range recs {
				w.Enqueue(r)
			}
			if err := w.Close(b.Context()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if st := w.Stats(); st.Written != int64(b.N) {
				b.Fatalf("%d rows written of %d", st.Written, b.N)
			}
		})
	}
}

// errorCount is a WriteObserver counting failed batch transactions.
type errorCount struct{ n atomic.Int64 }

func (e *errorCount) ObserveWrite(_ int, _ time.Duration, err error) {
	if err != nil {
		e.n.Add(1)
	}
}

// Six writers sharing one SQLite pool of four connections never wait on
// each other: a writer holding the write lock needs no second connection
// (it once prepared its INSERT on the pool, and waited for a connection
// held by a transaction that waited for its lock — until the busy timeout
// failed them). The busy timeout is long enough for all the batches to
// take turns even under the race detector; only a deadlock reaches it.
func TestLogWriter_WritersSharingASQLitePoolNeverDeadlock(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(ctx, storetest.SQLiteDSN(t), store.Config{MaxOpenConns: 4, BusyTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db, "switchboard", store.KitMigrations()); err != nil {
		t.Fatal(err)
	}
	var failed errorCount
	var wg sync.WaitGroup
	for r := range 6 {
		w := newLogWriter(t, db, store.WriterConfig{Instance: fmt.Sprint("replica-", r), Observers: []store.WriteObserver{&failed}})
		w.Start()
		wg.Go(func() {
			for i := range 1500 {
				w.Enqueue(&store.RequestLog{RequestID: fmt.Sprint(r, "-", i), Procedure: "a.B/C", Code: "ok", StartTime: time.Now().UTC()})
			}
			if err := w.Close(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := failed.n.Load(); n > 0 {
		t.Errorf("%d batch transactions failed (the writers waited on each other)", n)
	}
	if n, err := db.NewSelect().Model((*store.RequestLog)(nil)).Count(ctx); err != nil || n != 6*1500 {
		t.Errorf("%d rows (%v), want %d", n, err, 6*1500)
	}
}

// Bytes a client sends are not always valid UTF-8 (a User-Agent of 0xff, an
// error message cut mid-character): such a row is stored, with the bad
// bytes replaced, and costs no other row of its batch — PostgreSQL refuses
// invalid text, and a COPY with it entirely.
func TestLogWriter_InvalidTextCostsNoRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := openMigrated(t, dsn)
		var failed errorCount
		w := newLogWriter(t, db, store.WriterConfig{Observers: []store.WriteObserver{&failed}})
		w.Start()
		now := time.Now().UTC()
		w.Enqueue(&store.RequestLog{RequestID: "good-1", StartTime: now})
		w.Enqueue(&store.RequestLog{RequestID: "bad", StartTime: now, UserAgent: "curl\xff\xfe", ErrorMessage: "nul\x00here", ErrorDetails: "caf\xc3"})
		w.Enqueue(&store.RequestLog{RequestID: "good-2", StartTime: now})
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if n := failed.n.Load(); n > 0 {
			t.Errorf("%d batches failed", n)
		}
		if st := w.Stats(); st.Written != 3 {
			t.Errorf("%d rows written, want 3", st.Written)
		}
		bad, err := store.FindRequestLog(ctx, db, "bad")
		if err != nil {
			t.Fatal(err)
		}
		if bad.UserAgent != "curl\uFFFD" || bad.ErrorMessage != "nulhere" || bad.ErrorDetails != "caf\uFFFD" {
			t.Errorf("stored %q, %q, %q", bad.UserAgent, bad.ErrorMessage, bad.ErrorDetails)
		}
	})
}
