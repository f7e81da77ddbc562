package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// writeFromReplicas runs one log writer per replica on db, each storing
// calls calls on the same few hot keys (one minute, two procedures, two
// codes), and returns how long they took together.
func writeFromReplicas(t testing.TB, db *bun.DB, replicas, calls int, minute time.Time) time.Duration {
	began := time.Now()
	var wg sync.WaitGroup
	for r := range replicas {
		w, err := store.NewLogWriter(db, store.WriterConfig{Instance: fmt.Sprintf("replica-%d", r), QueueSize: calls, BatchSize: 500})
		if err != nil {
			t.Fatal(err)
		}
		w.Start()
		wg.Go(func() {
			for i := range calls {
				rec := call(minute.Add(time.Duration(i%60)*time.Second), fmt.Sprintf("hot.v1.S/M%d", i%2),
					[]string{"ok", "not_found"}[i%2], time.Duration(i%3000)*time.Microsecond, 10, 20)
				for !w.Enqueue(rec) {
					t.Error("queue full")
					return
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := w.Close(ctx); err != nil {
				t.Error(err)
			}
			if st := w.Stats(); st.Failed != 0 || st.Dropped != 0 {
				t.Errorf("replica %d: %+v", r, st)
			}
		})
	}
	wg.Wait()
	return time.Since(began)
}

// 1, 3 and 6 replicas writing the same hot rollup keys at once: no
// deadlock, no lost increment — the rollups count every call and there is
// a row for each.
func TestRollups_ConcurrentReplicasLoseNoIncrement(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		for _, replicas := range []int{1, 3, 6} {
			t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
				db := openMigrated(t, dsn)
				_, _ = db.NewDelete().Model((*store.RequestLog)(nil)).Where("1 = 1").Exec(t.Context())
				_, _ = db.NewDelete().Model((*store.Rollup)(nil)).Where("1 = 1").Exec(t.Context())
				const calls = 3000
				minute := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
				writeFromReplicas(t, db, replicas, calls, minute)
				rows, err := db.NewSelect().Model((*store.RequestLog)(nil)).Count(t.Context())
				if err != nil || int(rows) != replicas*calls {
					t.Errorf("%d rows (%v), want %d", rows, err, replicas*calls)
				}
				stats, err := store.StatsByProcedure(t.Context(), db, minute, minute.Add(time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				total := store.SumStats(stats)
				var inBuckets int64
				for _, n := range total.Buckets {
					inBuckets += n
				}
				if total.Count != int64(replicas*calls) || inBuckets != total.Count || total.RequestBytes != 10*total.Count {
					t.Errorf("rollups count %d calls, %d in the histogram, %d request bytes; want %d, %d, %d",
						total.Count, inBuckets, total.RequestBytes, replicas*calls, replicas*calls, 10*replicas*calls)
				}
			})
		}
	})
}

// BenchmarkLogWriteReplicas stores 20,000 calls per replica from 1, 3 and
// 6 replicas on one database at once; rows/s is the fleet's sustained
// write rate (go test -bench LogWriteReplicas -benchtime 1x ./store/ with
// SWITCHBOARD_TEST_POSTGRES_DSN set; compare the sub-benchmarks).
func BenchmarkLogWriteReplicas(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, replicas := range []int{1, 3, 6} {
			b.Run(fmt.Sprintf("%s/replicas=%d", dialect, replicas), func(b *testing.B) {
				dsn := storetest.SQLiteDSN(b)
				if dialect == "postgres" {
					dsn = storetest.PostgresDSN(b)
				}
				db := openMigrated(b, dsn)
				const calls = 20_000
				var took time.Duration
				for i := range b.N {
					took += writeFromReplicas(b, db, replicas, calls, time.Now().UTC().Truncate(time.Minute).Add(time.Duration(-i)*time.Hour))
				}
				b.ReportMetric(float64(b.N*replicas*calls)/took.Seconds(), "rows/s")
			})
		}
	}
}

// Rollups written by an older release (shared rows, the histogram as JSON)
// are carried into the per-instance table: the statistics read the same.
func TestRollups_MigrationCarriesOldRowsOver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db, err := store.Open(ctx, dsn, store.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := store.Migrate(ctx, db, "switchboard", store.KitMigrationsBefore("20261127200003")); err != nil {
			t.Fatal(err)
		}
		minute := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
		if _, err := db.ExecContext(ctx, `INSERT INTO switchboard_rollups
			(minute, procedure, code, count, latency_sum_us, request_bytes, response_bytes, buckets)
			VALUES (?, 'old.v1.S/M', 'ok', 3, 3000, 30, 60, '[1,1,1,0,0,0,0,0,0,0,0,0,0,0]')`, minute); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Migrate(ctx, db, "switchboard", store.KitMigrations()); err != nil {
			t.Fatal(err)
		}
		stats, err := store.StatsByProcedure(ctx, db, minute, minute.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		s := stats["old.v1.S/M"]
		if s == nil || s.Count != 3 || s.RequestBytes != 30 || s.Buckets[0] != 1 || s.Buckets[2] != 1 || s.AvgLatency() != time.Millisecond {
			t.Errorf("carried-over statistics %+v", s)
		}
	})
}

// A batch spilled by an older release — its rollups' histogram one Buckets
// array — replays whole.
func TestRollup_ReadsTheOldSpillForm(t *testing.T) {
	var r store.Rollup
	old := `{"Minute":"2026-11-27T10:00:00Z","Procedure":"a.B/C","Code":"ok","Count":3,"Buckets":[1,0,2]}`
	if err := json.Unmarshal([]byte(old), &r); err != nil {
		t.Fatal(err)
	}
	if r.Count != 3 || r.B0 != 1 || r.B2 != 2 || r.Procedure != "a.B/C" {
		t.Errorf("read %+v", r)
	}
	raw, _ := json.Marshal(&store.Rollup{Count: 2, B5: 2})
	var back store.Rollup
	if err := json.Unmarshal(raw, &back); err != nil || back.Count != 2 || back.B5 != 2 {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
