package store

// How calls hand their records to the LogWriter: a queue under a mutex that
// the writer empties a batch at a time, and the statistics-only counts.

import (
	"runtime"
)

// Record takes a finished call from the request log (it is a
// requestlog.Sink): rec goes into the queue when the call keeps a row, into
// the statistics only when not. The writer keeps rec and never changes it.
func (w *LogWriter) Record(rec *RequestLog, row bool) {
	if row {
		w.Enqueue(rec)
	} else {
		w.Count(rec)
	}
}

// Enqueue queues rec without blocking; false means it was dropped (queue
// full, or the writer closed). rec must not change afterwards.
func (w *LogWriter) Enqueue(rec *RequestLog) bool {
	w.qmu.Lock()
	if w.closed {
		w.qmu.Unlock()
		w.dropped.Add(1)
		return false
	}
	if len(w.queue) >= w.opts.QueueSize {
		// The row is lost, the call still counts in the statistics.
		w.addCount(rec)
		w.qmu.Unlock()
		w.dropped.Add(1)
		return false
	}
	w.queue = append(w.queue, rec)
	n := len(w.queue)
	w.queued.Store(int64(n))
	w.qmu.Unlock()
	if n == w.opts.BatchSize {
		select {
		case w.wake <- struct{}{}:
		default: // already woken
		}
	}
	if n > w.opts.QueueSize/2 {
		// Backpressure without blocking: the writer is behind (at
		// saturation the scheduler may give the calls its CPU), so give it
		// a turn.
		runtime.Gosched()
	}
	return true
}

// takeQueue returns everything queued, handing the writer's spare slice
// (emptied) to the callers in its place.
func (w *LogWriter) takeQueue(spare []*RequestLog) []*RequestLog {
	w.qmu.Lock()
	taken := w.queue
	w.queue = spare[:0]
	w.queued.Store(0)
	w.qmu.Unlock()
	return taken
}

// Count adds a call to the statistics (rollups) without keeping its row:
// for calls the request log chose not to store one by one. It never blocks
// and takes no queue slot, so counted calls cannot push out records.
func (w *LogWriter) Count(rec *RequestLog) {
	w.qmu.Lock() // as Enqueue: nothing is added after Close's last drain
	defer w.qmu.Unlock()
	if w.closed {
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
