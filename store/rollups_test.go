package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// call builds a finished call for the writer.
func call(at time.Time, procedure, code string, d time.Duration, req, res int64) *store.RequestLog {
	return &store.RequestLog{RequestID: fmt.Sprint(at.UnixNano()), Procedure: procedure, Code: code,
		StartTime: at, DurationMicros: d.Microseconds(), RequestBytes: req, ResponseBytes: res}
}

func TestRollups_StatisticsMatchHandComputedValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		db := openMigrated(t, dsn)
		base := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour) // a whole hour in the past
		const get, put = "p.v1.S/Get", "p.v1.S/Put"
		calls := []*store.RequestLog{
			// minute 0: Get ×4 ok (1.5ms, 2ms, 4ms, 8ms), Put ×1 invalid_argument (20ms)
			call(base.Add(1*time.Second), get, "ok", 1500*time.Microsecond, 10, 100),
			call(base.Add(2*time.Second), get, "ok", 2*time.Millisecond, 10, 100),
			call(base.Add(3*time.Second), get, "ok", 4*time.Millisecond, 10, 100),
			call(base.Add(4*time.Second), get, "ok", 8*time.Millisecond, 10, 100),
			call(base.Add(5*time.Second), put, "invalid_argument", 20*time.Millisecond, 50, 0),
			// minute 2: Get ×1 not_found (3ms), Get ×1 ok (2s)
			call(base.Add(2*time.Minute+time.Second), get, "not_found", 3*time.Millisecond, 10, 0),
			call(base.Add(2*time.Minute+2*time.Second), get, "ok", 2*time.Second, 10, 100),
		}
		// Two writers, batches of 3: rollups must add up across batches.
		w := newLogWriter(t, db, store.WriterConfig{BatchSize: 3, FlushInterval: 10 * time.Millisecond})
		w.Start()
		for _, c := range calls {
			w.Enqueue(c)
		}
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}

		stats, err := store.StatsByProcedure(ctx, db, base, base.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		g := stats[get]
		if g == nil || g.Count != 6 || g.ByCode["ok"] != 5 || g.ByCode["not_found"] != 1 || g.Errors != 1 {
			t.Fatalf("Get stats = %+v", g)
		}
		// avg = (1.5+2+4+8+3+2000)/6 ms = 336.41666ms
		if got, want := g.AvgLatency(), 2018500*time.Microsecond/6; got != want {
			t.Errorf("avg = %v, want %v", got, want)
		}
		if g.RequestBytes != 60 || g.ResponseBytes != 500 || fmt.Sprintf("%.4f", g.ErrorRate()) != "0.1667" {
			t.Errorf("bytes %d/%d error rate %.4f", g.RequestBytes, g.ResponseBytes, g.ErrorRate())
		}
		// Buckets (≤1, ≤2.5, ≤5, ≤10ms, …, ≤2.5s): 1.5→[1], 2→[1], 3→[2], 4→[2], 8→[3], 2s→[10].
		// p50: rank 3 falls in (2.5ms, 5ms] holding ranks 3–4 → 2.5 + (3-2)/2 × 2.5 = 3.75ms.
		if got := g.Percentile(0.50); got != 3750*time.Microsecond {
			t.Errorf("p50 = %v, want 3.75ms", got)
		}
		// p95: rank 5.7 falls in (1s, 2.5s] holding rank 6 → 1s + 0.7 × 1.5s = 2.05s.
		if got := g.Percentile(0.95); got != 2050*time.Millisecond {
			t.Errorf("p95 = %v, want 2.05s", got)
		}
		if p := stats[put]; p == nil || p.Count != 1 || p.ErrorRate() != 1 || p.RequestBytes != 50 {
			t.Errorf("Put stats = %+v", p)
		}

		points, err := store.Timeline(ctx, db, get, base, base.Add(5*time.Minute), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var counts []int64
		for _, p := range points {
			counts = append(counts, p.Stats.Count)
		}
		if fmt.Sprint(counts) != "[4 0 2 0 0]" {
			t.Errorf("per-minute Get counts = %v, want [4 0 2 0 0]", counts)
		}
		all, err := store.Timeline(ctx, db, "", base, base.Add(2*time.Hour), time.Hour)
		if err != nil || len(all) != 2 || all[0].Stats.Count != 7 || all[0].Stats.Errors != 2 || all[1].Stats.Count != 0 {
			t.Errorf("hourly timeline = %v, %v", all, err)
		}
	})
}

func TestTimelineStep(t *testing.T) {
	for window, want := range map[time.Duration]time.Duration{
		time.Hour: time.Minute, 2 * time.Hour: time.Minute, 24 * time.Hour: time.Hour,
		7 * 24 * time.Hour: time.Hour, 30 * 24 * time.Hour: 24 * time.Hour,
	} {
		if got := store.TimelineStep(window); got != want {
			t.Errorf("TimelineStep(%v) = %v, want %v", window, got, want)
		}
	}
}
