package store

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
)

// WriterConfig tunes a LogWriter. Start from DefaultWriterConfig; a zero
// size or interval is its default.
type WriterConfig struct {
	// QueueSize bounds the records waiting to be written; when it is full,
	// a record's row is dropped and counted, the call still goes into the
	// statistics. Past half of it, each call that queues a record yields
	// its processor once, so a writer starved of CPU by a saturated server
	// catches up instead of dropping rows.
	QueueSize int
	// BatchSize is the most rows one transaction inserts.
	BatchSize int
	// FlushInterval is the longest a record waits for a full batch.
	FlushInterval time.Duration
	// Retention deletes rows older than this, checked hourly; 0 keeps all.
	Retention time.Duration
	// SpillDir, when set, is where batches go while the database is
	// unavailable: on local disk, fsynced, replayed in order when it is back
	// (also by the next process on the same directory, after a crash). One
	// directory per process (a second one spills into a subdirectory).
	// Empty: no spill (batches are retried for ~30 s, then lost and counted).
	SpillDir string
	// SpillMaxBytes caps the spill; batches past it are lost and counted.
	SpillMaxBytes int64
	// Instance names the replica whose rollup rows this writer adds to
	// (every replica writes its own; readers sum them).
	Instance string
	// Logger reports write failures; nil is slog.Default().
	Logger *slog.Logger
	// Observers are told about every batch transaction (metrics, the
	// server's database health).
	Observers []WriteObserver
}

// WriteObserver is told how each batch transaction went: rows, how long it
// took, and its error. It runs on the writer's goroutine and must be quick.
type WriteObserver interface {
	ObserveWrite(rows int, took time.Duration, err error)
}

// DefaultWriterConfig returns the defaults: a queue of 50000 records (about
// 20 MB at most; two seconds of a saturated two-core server),
// batches of 500 rows at least every 200 ms, 30 days of retention, no spill
// directory, a 256 MiB spill cap.
func DefaultWriterConfig() WriterConfig {
	return WriterConfig{
		QueueSize: 50000, BatchSize: 500, FlushInterval: 200 * time.Millisecond,
		Retention: 30 * 24 * time.Hour, SpillMaxBytes: 256 << 20,
	}
}

// LogWriter writes request logs asynchronously: calls only enqueue, and one
// goroutine inserts batches in transactions. It never blocks a caller and
// never fails one: when the queue is full the record's row is dropped and
// counted, while the call still goes into the statistics (rollups); when the
// database is unavailable the batch is retried with backoff.
type LogWriter struct {
	db   *bun.DB
	opts WriterConfig

	// The queue: calls append under qmu; the writer takes everything at
	// once, when a batch is full (wake) or at its flush interval. One
	// wake-up per batch, not per call.
	qmu     sync.Mutex
	queue   []*RequestLog
	closed  bool          // under qmu: Close was called, nothing more is queued
	wake    chan struct{} // capacity 1: a full batch is waiting
	stop    chan struct{}
	abandon chan struct{} // closed when Close's deadline passes
	done    chan struct{}
	queued  atomic.Int64 // len(queue), for Stats without the lock
	once    sync.Once
	giveUp  sync.Once

	dropped atomic.Int64
	written atomic.Int64
	failed  atomic.Int64
	counted atomic.Int64

	countMu sync.Mutex
	counts  rollupSet // calls kept as statistics only, not yet written

	spill        *spill // nil: no spill (retry, then lose)
	spilled      atomic.Int64
	replayed     atomic.Int64
	spillDropped atomic.Int64
	nextProbe    time.Time
	probeEvery   time.Duration
	pendingFiles atomic.Int64 // gauges published from the writer goroutine
	pendingBytes atomic.Int64
}

// NewLogWriter returns a writer on db; call Start, and Close to flush. It
// fails only when a SpillDir is set and cannot be used.
func NewLogWriter(db *bun.DB, opts WriterConfig) (*LogWriter, error) {
	def := DefaultWriterConfig()
	if opts.QueueSize <= 0 {
		opts.QueueSize = def.QueueSize
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = def.BatchSize
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = def.FlushInterval
	}
	if opts.SpillMaxBytes <= 0 {
		opts.SpillMaxBytes = def.SpillMaxBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w := &LogWriter{
		db: db, opts: opts,
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		abandon: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if opts.SpillDir != "" {
		sp, err := openSpill(opts.SpillDir, opts.SpillMaxBytes)
		if err != nil {
			return nil, err
		}
		w.spill = sp
		w.pendingFiles.Store(int64(len(sp.pending)))
		w.pendingBytes.Store(sp.size)
		if !sp.empty() {
			opts.Logger.Info("request log: batches spilled by an earlier run will be replayed", "files", len(sp.pending))
		}
	}
	return w, nil
}

// SpillStats describes the spill: records spilled and replayed so far, lost
// because it was full, and files waiting now.
type SpillStats struct {
	Spilled, Replayed, Dropped int64
	PendingFiles, PendingBytes int64
}

// WriterStats are a LogWriter's counters. Read them as gauges: each is
// loaded on its own, not as one snapshot.
type WriterStats struct {
	// Written rows; Dropped records (queue full or closed: their calls
	// still count in the statistics); Failed rows lost to write errors that
	// retries did not cure; Counted calls kept as statistics only (past
	// their peer's row budget); Queued records waiting now.
	Written, Dropped, Failed, Counted int64
	Queued                            int
	Spill                             SpillStats
}

// Stats reports the writer's counters. Safe from any goroutine.
func (w *LogWriter) Stats() WriterStats {
	st := WriterStats{
		Written: w.written.Load(), Dropped: w.dropped.Load(), Failed: w.failed.Load(), Counted: w.counted.Load(),
		Queued: int(w.queued.Load()),
		Spill:  SpillStats{Spilled: w.spilled.Load(), Replayed: w.replayed.Load(), Dropped: w.spillDropped.Load()},
	}
	if w.spill != nil {
		st.Spill.PendingFiles, st.Spill.PendingBytes = w.pendingFiles.Load(), w.pendingBytes.Load()
	}
	return st
}

// Start runs the writer goroutine.
func (w *LogWriter) Start() { go w.run() }

// Close stops accepting records and writes everything already queued. If ctx
// ends first (the database is down), the writer stops retrying, counts what
// is left as failed, and Close returns ctx's error.
func (w *LogWriter) Close(ctx context.Context) error {
	w.once.Do(func() {
		w.qmu.Lock()
		w.closed = true // from here on Enqueue drops: run's last take sees every queued record
		w.qmu.Unlock()
		close(w.stop)
	})
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.giveUp.Do(func() { close(w.abandon) })
		<-w.done
		return ctx.Err()
	}
}

func (w *LogWriter) run() {
	defer close(w.done)
	if w.spill != nil {
		defer w.spill.close()
		w.nextProbe = time.Now() // an earlier run's batches: try at once
		w.probeEvery = 100 * time.Millisecond
	}
	flush := time.NewTicker(w.opts.FlushInterval)
	defer flush.Stop()
	retention := time.NewTicker(time.Hour)
	defer retention.Stop()
	w.prune()
	var spare []*RequestLog
	// drain writes everything queued, a batch at a time.
	drain := func() {
		taken := w.takeQueue(spare)
		for rest := taken; ; {
			n := min(len(rest), w.opts.BatchSize)
			w.write(rest[:n]) // also with no rows: spilled batches and counted calls go too
			if rest = rest[n:]; len(rest) == 0 {
				break
			}
		}
		clear(taken) // the records are stored: let them go
		spare = taken[:0]
	}
	for {
		select {
		case <-w.wake:
			drain()
		case <-flush.C:
			drain()
		case <-retention.C:
			w.prune()
		case <-w.stop:
			drain()
			return
		}
	}
}

// closing reports whether Close was called (then replay does not wait for
// its probe time: it is the last chance in this run).
func (w *LogWriter) closing() bool {
	select {
	case <-w.stop:
		return !w.abandoned()
	default:
		return false
	}
}

func (w *LogWriter) abandoned() bool {
	select {
	case <-w.abandon:
		return true
	default:
		return false
	}
}

func (w *LogWriter) prune() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Batch ids matter only while a batch may still be retried or replayed.
	if _, err := w.db.NewDelete().Model((*LogBatch)(nil)).
		Where("written_at < ?", time.Now().Add(-24*time.Hour).UTC()).Exec(ctx); err != nil {
		w.opts.Logger.Warn("request log: batch id cleanup failed", "error", err)
	}
	// Partitions (PostgreSQL) for today and two days ahead.
	if err := EnsureLogPartitions(ctx, w.db, time.Now(), 2); err != nil {
		w.opts.Logger.Warn("request log: creating daily partitions failed; rows go to the default partition", "error", err)
	}
	if w.opts.Retention <= 0 {
		return
	}
	cutoff := time.Now().Add(-w.opts.Retention).UTC()
	if _, err := w.db.NewDelete().Model((*Rollup)(nil)).Where("minute < ?", cutoff).Exec(ctx); err != nil {
		w.opts.Logger.Warn("request log: rollup retention delete failed", "error", err)
	}
	if DialectOf(w.db) == Postgres {
		dropped, err := DropLogPartitionsBefore(ctx, w.db, cutoff)
		if err != nil {
			w.opts.Logger.Warn("request log: retention failed", "error", err)
		}
		if len(dropped) > 0 {
			w.opts.Logger.Info("request log: dropped old daily partitions", "partitions", dropped, "older_than", w.opts.Retention)
		}
		return
	}
	res, err := w.db.NewDelete().Model((*RequestLog)(nil)).
		Where("start_time < ?", cutoff).Exec(ctx)
	if err != nil {
		w.opts.Logger.Warn("request log: retention delete failed", "error", err)
		return
	}
	if n, _ := res.RowsAffected(); n > 0 {
		w.opts.Logger.Info("request log: deleted old rows", "rows", n, "older_than", w.opts.Retention)
	}
}
