package store

// StoreBatchTwiceForTest stores rows (with the counted-only calls) as one
// batch, twice, as a retry after a lost commit answer would.
func StoreBatchTwiceForTest(w *LogWriter, rows []*RequestLog) error {
	b := w.newBatch(rows)
	if err := w.insert(b); err != nil {
		return err
	}
	return w.insert(b)
}
