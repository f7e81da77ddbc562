package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
)

// LogWriterOptions tune a LogWriter; zero values take the documented
// defaults.
type LogWriterOptions struct {
	// QueueSize bounds the records waiting to be written (default 10000).
	// When it is full, Enqueue drops the record and counts it.
	QueueSize int
	// BatchSize is the most rows one transaction inserts (default 500).
	BatchSize int
	// FlushInterval is the longest a record waits for a full batch
	// (default 200ms).
	FlushInterval time.Duration
	// Retention deletes rows older than this, checked hourly; 0 keeps all.
	Retention time.Duration
	// Logger reports write failures (default slog.Default()).
	Logger *slog.Logger
	// OnWrite, when set, is told about every batch transaction: rows, how
	// long it took, and its error (for metrics).
	OnWrite func(rows int, took time.Duration, err error)
}

// LogWriter writes request logs asynchronously: calls only enqueue, and one
// goroutine inserts batches in transactions. It never blocks a caller and
// never fails one: when the queue is full the record's row is dropped and
// counted, while the call still goes into the statistics (rollups); when the
// database is unavailable the batch is retried with backoff.
type LogWriter struct {
	db   *bun.DB
	opts LogWriterOptions

	queue   chan *RequestLog
	stop    chan struct{}
	abandon chan struct{} // closed when Close's deadline passes
	done    chan struct{}
	stopped atomic.Bool
	once    sync.Once
	giveUp  sync.Once

	dropped atomic.Int64
	written atomic.Int64
	failed  atomic.Int64
	counted atomic.Int64

	countMu sync.Mutex
	counts  rollupSet // calls kept as statistics only, not yet written
}

// NewLogWriter returns a writer on db; call Start, and Close to flush.
func NewLogWriter(db *bun.DB, opts LogWriterOptions) *LogWriter {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10000
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &LogWriter{
		db: db, opts: opts,
		queue:   make(chan *RequestLog, opts.QueueSize),
		stop:    make(chan struct{}),
		abandon: make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// Start runs the writer goroutine.
func (w *LogWriter) Start() { go w.run() }

// Enqueue queues rec without blocking; false means it was dropped (queue
// full, or the writer closed).
func (w *LogWriter) Enqueue(rec *RequestLog) bool {
	if w.stopped.Load() {
		w.dropped.Add(1)
		return false
	}
	select {
	case w.queue <- rec:
		return true
	default:
		// The row is lost, the call still counts in the statistics.
		w.dropped.Add(1)
		w.addCount(rec)
		return false
	}
}

// Count adds a call to the statistics (rollups) without keeping its row:
// for calls the request log chose not to store one by one. It never blocks
// and takes no queue slot, so counted calls cannot push out records.
func (w *LogWriter) Count(rec *RequestLog) {
	if w.stopped.Load() {
		w.dropped.Add(1)
		return
	}
	w.addCount(rec)
	w.counted.Add(1)
}

func (w *LogWriter) addCount(rec *RequestLog) {
	w.countMu.Lock()
	if w.counts == nil {
		w.counts = rollupSet{}
	}
	w.counts.add(rec)
	w.countMu.Unlock()
}

// Counted reports how many calls were kept as statistics only (Count).
func (w *LogWriter) Counted() int64 { return w.counted.Load() }

// takeCounts returns and clears the statistics-only calls.
func (w *LogWriter) takeCounts() rollupSet {
	w.countMu.Lock()
	defer w.countMu.Unlock()
	c := w.counts
	w.counts = nil
	return c
}

// Stats reports how many records were written, dropped because the queue was
// full or closed, and lost to write errors that retries did not cure, and
// how many wait in the queue now.
func (w *LogWriter) Stats() (written, dropped, failed int64, queued int) {
	return w.written.Load(), w.dropped.Load(), w.failed.Load(), len(w.queue)
}

// Close stops accepting records and writes everything already queued. If ctx
// ends first (the database is down), the writer stops retrying, counts what
// is left as failed, and Close returns ctx's error.
func (w *LogWriter) Close(ctx context.Context) error {
	w.once.Do(func() {
		w.stopped.Store(true)
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
	flush := time.NewTicker(w.opts.FlushInterval)
	defer flush.Stop()
	retention := time.NewTicker(time.Hour)
	defer retention.Stop()
	w.prune()
	batch := make([]*RequestLog, 0, w.opts.BatchSize)
	add := func(rec *RequestLog) {
		if batch = append(batch, rec); len(batch) >= w.opts.BatchSize {
			batch = w.write(batch)
		}
	}
	for {
		select {
		case rec := <-w.queue:
			add(rec)
		case <-flush.C:
			batch = w.write(batch)
		case <-retention.C:
			w.prune()
		case <-w.stop:
			for {
				select {
				case rec := <-w.queue:
					add(rec)
				default:
					w.write(batch)
					return
				}
			}
		}
	}
}

// write inserts batch in one transaction, retrying transient failures with
// backoff (up to ~30s, or less once Close was called), and returns the
// emptied batch.
func (w *LogWriter) write(batch []*RequestLog) []*RequestLog {
	rollups := w.takeCounts()
	if len(batch) == 0 && len(rollups) == 0 {
		return batch
	}
	if rollups == nil {
		rollups = rollupSet{}
	}
	for _, rec := range batch {
		rollups.add(rec)
	}
	sorted := rollups.sorted()
	backoff := 50 * time.Millisecond
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		began := time.Now()
		err := w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if len(batch) > 0 {
				if _, err := tx.NewInsert().Model(&batch).Exec(ctx); err != nil {
					return err
				}
			}
			return addRollups(ctx, tx, sorted)
		})
		cancel()
		if w.opts.OnWrite != nil {
			w.opts.OnWrite(len(batch), time.Since(began), err)
		}
		if err == nil {
			w.written.Add(int64(len(batch)))
			return batch[:0]
		}
		transient := IsUnavailable(err) || errors.Is(err, context.DeadlineExceeded)
		if !transient || time.Now().After(deadline) || w.abandoned() {
			w.failed.Add(int64(len(batch)))
			w.opts.Logger.Error("request log: batch lost", "rows", len(batch), "error", err)
			return batch[:0]
		}
		w.opts.Logger.Warn("request log: database unavailable; retrying", "rows", len(batch), "in", backoff, "error", err)
		select {
		case <-time.After(backoff):
		case <-w.abandon:
		}
		backoff = min(2*backoff, 2*time.Second)
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
	if w.opts.Retention <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cutoff := time.Now().Add(-w.opts.Retention).UTC()
	if _, err := w.db.NewDelete().Model((*Rollup)(nil)).Where("minute < ?", cutoff).Exec(ctx); err != nil {
		w.opts.Logger.Warn("request log: rollup retention delete failed", "error", err)
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
