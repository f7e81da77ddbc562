package store

// How the log writer stores one batch: in one transaction with its rollups,
// recorded idempotently; retried while the database is briefly unavailable;
// spilled to local disk when it stays so, and replayed in order once it is
// back.

import (
	"context"
	"errors"
	"time"
)

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

// write stores batch (and the calls counted only). Normally that is one transaction. When the database is unavailable
// and a spill is configured, the batch goes to disk instead, as does every
// batch after it until the database is back (so order is kept); replay
// happens here too, a little at each flush. Without a spill, transient
// failures are retried with backoff for up to ~30 s (less once Close was
// called), then the batch is lost and counted as failed.
func (w *LogWriter) write(batch []*RequestLog) {
	if len(batch) == 0 && !w.hasCounts() && (w.spill == nil || w.spill.empty()) {
		return
	}
	b := w.newBatch(batch)
	if w.spill == nil || !w.writeOrSpill(b) {
		w.retry(b)
	}
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
	again, err := w.store(ctx, b.ID, b.Rows, sorted) // loginsert.go
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
