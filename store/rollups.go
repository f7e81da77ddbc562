package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// LatencyBounds are the upper bounds of the rollup latency histogram; a last,
// open bucket counts everything slower. Fixed, so rollups written by
// different versions and replicas add up.
var LatencyBounds = []time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Rollup aggregates the calls of one minute × procedure × code, as one
// replica (Instance) wrote them. The log writer adds each batch's calls to
// its rollups in the same transaction as the rows, with one statement that
// adds (an UPSERT), and every replica writes rows of its own: replicas never
// wait on each other's rows. Readers sum over instances.
type Rollup struct {
	bun.BaseModel `bun:"table:switchboard_rollup_counts"`

	Minute        time.Time `bun:"minute,pk"` // UTC, truncated to the minute
	Procedure     string    `bun:"procedure,pk"`
	Code          string    `bun:"code,pk"`
	Instance      string    `bun:"instance,pk"`
	Count         int64     `bun:"count,notnull"`
	LatencySumUS  int64     `bun:"latency_sum_us,notnull"`
	RequestBytes  int64     `bun:"request_bytes,notnull"`
	ResponseBytes int64     `bun:"response_bytes,notnull"`
	// The latency histogram, one column per bucket so an UPSERT can add
	// them: B<i> counts calls no slower than LatencyBounds[i] (and slower
	// than the bound before); the last counts the rest.
	B0  int64 `bun:"b0,notnull"`
	B1  int64 `bun:"b1,notnull"`
	B2  int64 `bun:"b2,notnull"`
	B3  int64 `bun:"b3,notnull"`
	B4  int64 `bun:"b4,notnull"`
	B5  int64 `bun:"b5,notnull"`
	B6  int64 `bun:"b6,notnull"`
	B7  int64 `bun:"b7,notnull"`
	B8  int64 `bun:"b8,notnull"`
	B9  int64 `bun:"b9,notnull"`
	B10 int64 `bun:"b10,notnull"`
	B11 int64 `bun:"b11,notnull"`
	B12 int64 `bun:"b12,notnull"`
	B13 int64 `bun:"b13,notnull"`
}

// buckets returns the histogram's columns in order.
func (r *Rollup) buckets() []*int64 {
	return []*int64{&r.B0, &r.B1, &r.B2, &r.B3, &r.B4, &r.B5, &r.B6, &r.B7, &r.B8, &r.B9, &r.B10, &r.B11, &r.B12, &r.B13}
}

type rollupKey struct {
	minute          time.Time
	procedure, code string
}

// histogramSize is the number of latency buckets.
const histogramSize = 14

func init() {
	if len(LatencyBounds)+1 != histogramSize {
		panic("store: LatencyBounds and the rollup histogram columns disagree")
	}
}

// rollupSet accumulates calls into rollups keyed by minute × procedure ×
// code.
type rollupSet map[rollupKey]*Rollup

func (s rollupSet) add(rec *RequestLog) {
	k := rollupKey{rec.StartTime.UTC().Truncate(time.Minute), rec.Procedure, rec.Code}
	r, ok := s[k]
	if !ok {
		r = &Rollup{Minute: k.minute, Procedure: k.procedure, Code: k.code}
		s[k] = r
	}
	r.Count++
	r.LatencySumUS += rec.DurationMicros
	r.RequestBytes += rec.RequestBytes
	r.ResponseBytes += rec.ResponseBytes
	*r.buckets()[bucketOf(time.Duration(rec.DurationMicros)*time.Microsecond)]++
}

// merge adds every rollup of o into s.
func (s rollupSet) merge(o rollupSet) {
	for k, r := range o {
		have, ok := s[k]
		if !ok {
			c := *r
			s[k] = &c
			continue
		}
		have.Count += r.Count
		have.LatencySumUS += r.LatencySumUS
		have.RequestBytes += r.RequestBytes
		have.ResponseBytes += r.ResponseBytes
		theirs := r.buckets()
		for i, n := range have.buckets() {
			*n += *theirs[i]
		}
	}
}

// sorted returns the rollups in key order: a stable order keeps concurrent
// writers from deadlocking on rows.
func (s rollupSet) sorted() []*Rollup {
	keys := make([]rollupKey, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if !a.minute.Equal(b.minute) {
			return a.minute.Before(b.minute)
		}
		if a.procedure != b.procedure {
			return a.procedure < b.procedure
		}
		return a.code < b.code
	})
	out := make([]*Rollup, len(keys))
	for i, k := range keys {
		out[i] = s[k]
	}
	return out
}

func bucketOf(d time.Duration) int {
	for i, b := range LatencyBounds {
		if d <= b {
			return i
		}
	}
	return len(LatencyBounds)
}

// addRollups adds rollups to this instance's rows in one statement: an
// UPSERT whose conflict clause adds every counter and histogram column. The
// rows are this instance's own, so concurrent replicas never contend for
// them; sorted keys keep one writer's statement in a stable order.
func addRollups(ctx context.Context, tx bun.Tx, instance string, rollups []*Rollup) error {
	if len(rollups) == 0 {
		return nil
	}
	_, err := rollupUpsert(tx, instance, rollups).Exec(ctx)
	return err
}

// rollupUpsert is the one statement that adds rollups to instance's rows.
func rollupUpsert(db bun.IDB, instance string, rollups []*Rollup) *bun.InsertQuery {
	for _, r := range rollups {
		r.Instance = instance
	}
	q := db.NewInsert().Model(&rollups).On("CONFLICT (minute, procedure, code, instance) DO UPDATE")
	for _, col := range rollupCounters {
		q = q.Set("? = ?TableAlias.? + EXCLUDED.?", bun.Ident(col), bun.Ident(col), bun.Ident(col))
	}
	return q
}

// rollupCounters are the columns an UPSERT adds.
var rollupCounters = func() []string {
	cols := []string{"count", "latency_sum_us", "request_bytes", "response_bytes"}
	for i := range histogramSize {
		cols = append(cols, fmt.Sprintf("b%d", i))
	}
	return cols
}()

// Stats summarizes calls: totals, codes, latency percentiles.
//
// Calls the client cancelled ("canceled") are counted (Count, ByCode) but
// are neither errors nor latency samples: the client went away, the server
// did nothing wrong, and how long the client waited says nothing of the
// server's speed.
type Stats struct {
	Count  int64
	ByCode map[string]int64
	// Errors counts calls that failed, cancelled ones aside.
	Errors int64
	// Timed counts the calls behind LatencySum and Buckets (cancelled ones
	// aside).
	Timed         int64
	LatencySum    time.Duration
	RequestBytes  int64
	ResponseBytes int64
	Buckets       []int64
}

func newStats() *Stats {
	return &Stats{ByCode: map[string]int64{}, Buckets: make([]int64, len(LatencyBounds)+1)}
}

// clientCancelled is the code of calls the client cancelled.
const clientCancelled = "canceled"

func (s *Stats) add(r *Rollup) {
	s.Count += r.Count
	s.ByCode[r.Code] += r.Count
	s.RequestBytes += r.RequestBytes
	s.ResponseBytes += r.ResponseBytes
	if r.Code == clientCancelled {
		return
	}
	if r.Code != "ok" {
		s.Errors += r.Count
	}
	s.Timed += r.Count
	s.LatencySum += time.Duration(r.LatencySumUS) * time.Microsecond
	for i, n := range r.buckets() {
		s.Buckets[i] += *n
	}
}

// ErrorRate is the share of calls that did not end OK, calls the client
// cancelled aside (0 with no calls).
func (s *Stats) ErrorRate() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Count)
}

// AvgLatency is the mean duration of the timed calls (0 with none).
func (s *Stats) AvgLatency() time.Duration {
	if s.Timed == 0 {
		return 0
	}
	return s.LatencySum / time.Duration(s.Timed)
}

// Percentile estimates the q-quantile (0 < q ≤ 1) of latency from the
// histogram, interpolating linearly inside the bucket that holds it; in the
// open last bucket it answers the last bound.
func (s *Stats) Percentile(q float64) time.Duration {
	if s.Timed == 0 {
		return 0
	}
	rank := q * float64(s.Timed)
	var seen float64
	for i, n := range s.Buckets {
		if n == 0 {
			continue
		}
		if seen+float64(n) >= rank {
			if i == len(LatencyBounds) {
				return LatencyBounds[len(LatencyBounds)-1]
			}
			lower := time.Duration(0)
			if i > 0 {
				lower = LatencyBounds[i-1]
			}
			frac := math.Max(0, (rank-seen)/float64(n))
			return (lower + time.Duration(frac*float64(LatencyBounds[i]-lower))).Round(time.Microsecond)
		}
		seen += float64(n)
	}
	return LatencyBounds[len(LatencyBounds)-1]
}

// StatsByProcedure sums the rollups of [from, to) per procedure.
func StatsByProcedure(ctx context.Context, db bun.IDB, from, to time.Time) (map[string]*Stats, error) {
	var rows []*Rollup
	err := db.NewSelect().Model(&rows).
		Where("minute >= ? AND minute < ?", from.UTC().Truncate(time.Minute), to.UTC()).
		Scan(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]*Stats{}
	for _, r := range rows {
		s, ok := out[r.Procedure]
		if !ok {
			s = newStats()
			out[r.Procedure] = s
		}
		s.add(r)
	}
	return out, nil
}

// Point is one bucket of a timeline.
type Point struct {
	Start time.Time
	Stats *Stats
}

// TimelineStep picks the bucket width for a window: a minute up to 2h, an
// hour up to 7 days, a day beyond.
func TimelineStep(window time.Duration) time.Duration {
	switch {
	case window <= 2*time.Hour:
		return time.Minute
	case window <= 7*24*time.Hour:
		return time.Hour
	}
	return 24 * time.Hour
}

// Timeline returns one point per step over [from, to) — empty steps
// included — for one procedure ("pkg.Service/Method"), every method of one
// service ("pkg.Service/"), or every procedure when procedure is "".
func Timeline(ctx context.Context, db bun.IDB, procedure string, from, to time.Time, step time.Duration) ([]Point, error) {
	from, to = from.UTC().Truncate(step), to.UTC()
	var rows []*Rollup
	q := db.NewSelect().Model(&rows).Where("minute >= ? AND minute < ?", from, to)
	switch {
	case strings.HasSuffix(procedure, "/"):
		q = q.Where("substr(procedure, 1, ?) = ?", len(procedure), procedure)
	case procedure != "":
		q = q.Where("procedure = ?", procedure)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	var points []Point
	for t := from; t.Before(to); t = t.Add(step) {
		points = append(points, Point{Start: t, Stats: newStats()})
	}
	for _, r := range rows {
		i := int(r.Minute.UTC().Sub(from) / step)
		if i >= 0 && i < len(points) {
			points[i].Stats.add(r)
		}
	}
	return points, nil
}

// SumStats adds up per-procedure stats (an empty Stats for none).
func SumStats(byProcedure map[string]*Stats) *Stats {
	total := newStats()
	for _, s := range byProcedure {
		total.Count += s.Count
		total.Errors += s.Errors
		total.Timed += s.Timed
		total.LatencySum += s.LatencySum
		total.RequestBytes += s.RequestBytes
		total.ResponseBytes += s.ResponseBytes
		for code, n := range s.ByCode {
			total.ByCode[code] += n
		}
		for i, n := range s.Buckets {
			total.Buckets[i] += n
		}
	}
	return total
}

// UnmarshalJSON reads a rollup as the log writer's spill stores it, from
// this release (a field per bucket) or from an older one (the histogram as
// one Buckets array), so batches spilled before an upgrade replay whole.
func (r *Rollup) UnmarshalJSON(data []byte) error {
	type plain Rollup // without this method
	var v struct {
		plain
		Buckets []int64
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*r = Rollup(v.plain)
	for i, n := range v.Buckets {
		if b := r.buckets(); i < len(b) {
			*b[i] += n
		} else {
			*b[len(b)-1] += n // a longer old histogram: the rest is the open last bucket
		}
	}
	return nil
}
