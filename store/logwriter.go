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

// WriterConfig tunes a LogWriter. Start from DefaultWriterConfig; a zero
// size or interval is its default.
type WriterConfig struct {
	// QueueSize bounds the records waiting to be written; when it is full,
	// a record's row is dropped and counted, the call still goes into the
	// statistics.
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

// DefaultWriterConfig returns the defaults: a queue of 10000 records,
// batches of 500 rows at least every 200 ms, 30 days of retention, no spill
// directory, a 256 MiB spill cap.
func DefaultWriterConfig() WriterConfig {
	return WriterConfig{
		QueueSize: 10000, BatchSize: 500, FlushInterval: 200 * time.Millisecond,
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
		queue:   make(chan *RequestLog, opts.QueueSize),
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
		Queued: len(w.queue),
		Spill:  SpillStats{Spilled: w.spilled.Load(), Replayed: w.replayed.Load(), Dropped: w.spillDropped.Load()},
	}
	if w.spill != nil {
		st.Spill.PendingFiles, st.Spill.PendingBytes = w.pendingFiles.Load(), w.pendingBytes.Load()
	}
	return st
}

// Start runs the writer goroutine.
func (w *LogWriter) Start() { go w.run() }

// Record takes a finished call from the request log (it is a
// requestlog.Sink): its own copy of rec goes into the queue when the call
// keeps a row, into the statistics only when not.
func (w *LogWriter) Record(rec *RequestLog, row bool) {
	owned := *rec // the writer sets the row id; other sinks may still read theirs
	if row {
		w.Enqueue(&owned)
	} else {
		w.Count(&owned)
	}
}

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

func (w *LogWriter) hasCounts() bool {
	w.countMu.Lock()
	defer w.countMu.Unlock()
	return len(w.counts) > 0
}

// putBackCounts returns counts taken for a write that failed.
func (w *LogWriter) putBackCounts(counts rollupSet) {
	if len(counts) == 0 {
		return
	}
	w.countMu.Lock()
	defer w.countMu.Unlock()
	if w.counts == nil {
		w.counts = rollupSet{}
	}
	w.counts.merge(counts)
}

// takeCounts returns and clears the statistics-only calls.
func (w *LogWriter) takeCounts() rollupSet {
	w.countMu.Lock()
	defer w.countMu.Unlock()
	c := w.counts
	w.counts = nil
	return c
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

// logBatch is the unit the writer stores: rows, the counted-only calls
// that go with them, and an id that makes storing it idempotent.
type logBatch struct {
	ID     string        `json:"id"`
	Rows   []*RequestLog `json:"rows"`
	Counts []*Rollup     `json:"counts,omitempty"`
}

// newBatch takes the counted-only calls with rows: from here on they travel
// (and are retried, spilled, replayed) together.
func (w *LogWriter) newBatch(rows []*RequestLog) *logBatch {
	id, _ := randomString(16)
	b := &logBatch{ID: id, Rows: append([]*RequestLog(nil), rows...)}
	if counts := w.takeCounts(); len(counts) > 0 {
		b.Counts = counts.sorted()
	}
	return b
}

// write stores batch (and the calls counted only) and returns the emptied
// batch. Normally that is one transaction. When the database is unavailable
// and a spill is configured, the batch goes to disk instead, as does every
// batch after it until the database is back (so order is kept); replay
// happens here too, a little at each flush. Without a spill, transient
// failures are retried with backoff for up to ~30 s (less once Close was
// called), then the batch is lost and counted as failed.
func (w *LogWriter) write(batch []*RequestLog) []*RequestLog {
	if len(batch) == 0 && !w.hasCounts() && (w.spill == nil || w.spill.empty()) {
		return batch
	}
	b := w.newBatch(batch)
	if w.spill == nil || !w.writeOrSpill(b) {
		w.retry(b)
	}
	return batch[:0]
}

// retry stores b, retrying transient failures with backoff for up to ~30 s
// (less once Close was called); then b is lost and counted as failed.
func (w *LogWriter) retry(b *logBatch) {
	backoff := 50 * time.Millisecond
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := w.insert(b)
		if err == nil {
			return
		}
		if !transient(err) || time.Now().After(deadline) || w.abandoned() {
			w.lose(b, err)
			return
		}
		w.opts.Logger.Warn("request log: database unavailable; retrying", "rows", len(b.Rows), "in", backoff, "error", err)
		select {
		case <-time.After(backoff):
		case <-w.abandon:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func transient(err error) bool {
	return IsUnavailable(err) || errors.Is(err, context.DeadlineExceeded)
}

// insert stores b in one transaction, once: a batch whose id is already
// recorded — its commit went through though its answer was lost — is not
// stored again.
func (w *LogWriter) insert(b *logBatch) error {
	if len(b.Rows) == 0 && len(b.Counts) == 0 {
		return nil
	}
	rollups := rollupSetOf(b.Counts) // a copy: b.Counts stays as it was for a retry
	for _, rec := range b.Rows {
		rollups.add(rec)
	}
	sorted := rollups.sorted()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	began := time.Now()
	var again bool
	err := w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewInsert().Model(&LogBatch{ID: b.ID, WrittenAt: time.Now().UTC()}).
			On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			again = true
			return nil
		}
		if len(b.Rows) > 0 {
			for _, rec := range b.Rows {
				rec.ID = 0 // the database assigns it
			}
			if _, err := tx.NewInsert().Model(&b.Rows).Exec(ctx); err != nil {
				return err
			}
		}
		return addRollups(ctx, tx, sorted)
	})
	for _, o := range w.opts.Observers {
		o.ObserveWrite(len(b.Rows), time.Since(began), err)
	}
	if err != nil {
		return err
	}
	if again {
		w.opts.Logger.Info("request log: batch already stored (a retried commit); not stored twice", "rows", len(b.Rows))
	}
	w.written.Add(int64(len(b.Rows)))
	return nil
}

// lose counts a batch that will never be stored; its calls stay in the
// statistics.
func (w *LogWriter) lose(b *logBatch, err error) {
	w.failed.Add(int64(len(b.Rows)))
	for _, rec := range b.Rows {
		w.addCount(rec)
	}
	w.putBackCounts(rollupSetOf(b.Counts))
	w.opts.Logger.Error("request log: batch lost", "rows", len(b.Rows), "error", err)
}

func rollupSetOf(rollups []*Rollup) rollupSet {
	set := rollupSet{}
	for _, r := range rollups {
		set.merge(rollupSet{rollupKey{r.Minute, r.Procedure, r.Code}: r})
	}
	return set
}

// writeOrSpill is write with a spill: see write. It reports false when b
// could not be spilled for a reason other than the cap (the spill's own
// disk is full, say — often the database's too): then write retries it in
// memory instead.
func (w *LogWriter) writeOrSpill(b *logBatch) bool {
	if w.spill.empty() {
		err := w.insert(b)
		switch {
		case err == nil:
			return true
		case !transient(err):
			w.lose(b, err)
			return true
		}
		w.opts.Logger.Warn("request log: database unavailable; spilling batches to disk until it is back",
			"dir", w.spill.dir, "error", err)
		w.nextProbe, w.probeEvery = time.Now().Add(100*time.Millisecond), 100*time.Millisecond
	}
	spilled := true
	if len(b.Rows) > 0 || len(b.Counts) > 0 {
		spilled = w.toSpill(b)
	}
	w.replay()
	w.pendingFiles.Store(int64(len(w.spill.pending)))
	w.pendingBytes.Store(w.spill.size)
	return spilled
}

// toSpill appends b to the spill; past the cap b is lost and counted.
func (w *LogWriter) toSpill(b *logBatch) bool {
	switch err := w.spill.append(b); {
	case err == nil:
		w.spilled.Add(int64(len(b.Rows)))
	case errors.Is(err, errSpillFull):
		w.spillDropped.Add(int64(len(b.Rows)))
		w.lose(b, err)
	default:
		w.opts.Logger.Warn("request log: cannot spill; retrying the batch in memory", "rows", len(b.Rows), "error", err)
		return false
	}
	return true
}

// replay moves spilled batches into the database, oldest first, when it is
// time to try (backing off while it stays down), for at most 250 ms per
// call so the queue keeps draining (into the spill) meanwhile.
func (w *LogWriter) replay() {
	if w.spill.empty() || (time.Now().Before(w.nextProbe) && !w.closing()) {
		return
	}
	budget := time.Now().Add(250 * time.Millisecond)
	for !w.spill.empty() {
		b, err := w.spill.oldest()
		if err != nil {
			w.opts.Logger.Error("request log: a spilled batch cannot be read; set aside", "error", err)
			w.spill.done(0, true)
			continue
		}
		err = w.insert(b)
		switch {
		case err == nil:
			w.spill.done(len(b.Rows), false)
			w.replayed.Add(int64(len(b.Rows)))
		case !transient(err):
			w.spill.done(len(b.Rows), true)
			w.failed.Add(int64(len(b.Rows)))
			w.opts.Logger.Error("request log: a spilled batch was refused; set aside", "rows", len(b.Rows), "error", err)
		default:
			w.probeEvery = min(2*w.probeEvery, 5*time.Second)
			w.nextProbe = time.Now().Add(w.probeEvery)
			return
		}
		if w.spill.empty() {
			w.opts.Logger.Info("request log: database back; spilled batches replayed")
			return
		}
		if (time.Now().After(budget) && !w.closing()) || w.abandoned() {
			return
		}
	}
}

// closing reports whether Close was called (then replay does not wait for
// its probe time: it is the last chance in this run).
func (w *LogWriter) closing() bool { return w.stopped.Load() && !w.abandoned() }

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
	if w.opts.Retention <= 0 {
		return
	}
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
