package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// BenchmarkStats24h measures a 24-hour statistics query after 1k and after
// 1M logged calls (7 methods, 3 codes, spread over the day). Statistics read
// rollups, whose size is bounded by minutes × methods × codes, not by calls:
// compare the two sub-benchmarks as a ratio (go test -bench Stats24h
// -benchmem ./store/).
func BenchmarkStats24h(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, calls := range []int{1_000, 1_000_000} {
			b.Run(fmt.Sprintf("%s/calls=%d", dialect, calls), func(b *testing.B) {
				dsn := storetest.SQLiteDSN(b)
				if dialect == "postgres" {
					dsn = storetest.PostgresDSN(b)
				}
				benchStats24h(b, dsn, calls)
			})
		}
	}
}

func benchStats24h(b *testing.B, dsn string, calls int) {
	ctx := b.Context()
	db := openMigrated(b, dsn)
	end := time.Now().UTC().Truncate(time.Minute)
	start := end.Add(-24 * time.Hour)
	codes := []string{"ok", "ok", "ok", "not_found", "invalid_argument"}
	w := newLogWriter(b, db, store.WriterConfig{QueueSize: 20000, BatchSize: 5000})
	w.Start()
	for i := range calls {
		at := start.Add(time.Duration(i) * (24 * time.Hour) / time.Duration(calls))
		rec := call(at, fmt.Sprintf("p.v1.S/M%d", i%7), codes[i%len(codes)], time.Duration(i%5000)*time.Microsecond, 20, 200)
		if !w.Enqueue(rec) {
			kittest.WaitFor(b, "room in the queue", func() bool { return w.Enqueue(rec) })
		}
	}
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		stats, err := store.StatsByProcedure(ctx, db, start, end)
		if err != nil || len(stats) != 7 {
			b.Fatalf("%d procedures, %v", len(stats), err)
		}
	}
}
