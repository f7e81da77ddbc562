package store

import "github.com/uptrace/bun/migrate"

// StoreBatchTwiceForTest stores rows (with the counted-only calls) as one
// batch, twice, as a retry after a lost commit answer would.
func StoreBatchTwiceForTest(w *LogWriter, rows []*RequestLog) error {
	b := w.newBatch(rows)
	if err := w.insert(b); err != nil {
		return err
	}
	return w.insert(b)
}

// KitMigrationsBefore is the kit's schema up to, not including, the
// migration named name: the schema an older release left.
func KitMigrationsBefore(name string) *migrate.Migrations {
	out := migrate.NewMigrations()
	for _, m := range KitMigrations().Sorted() {
		if m.Name < name {
			out.Add(m)
		}
	}
	return out
}

// LogColumns are the columns the SQLite row INSERT writes.
var LogColumns = logColumns
