package store

// On PostgreSQL the request log is partitioned by day (start_time), so
// retention drops a whole partition instead of deleting rows one by one,
// and inserts and queries of today touch today's partition alone. Daily
// partitions are created two days ahead; a default partition catches rows
// outside them (a replayed spill from long ago, a clock far off), and rows
// it holds for a day are moved into that day's partition when it is made.
// SQLite has no partitions: retention deletes rows there.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

const logTable = "switchboard_request_logs"

// partitionName names the partition of day (UTC).
func partitionName(day time.Time) string { return logTable + "_p" + day.Format("20060102") }

// EnsureLogPartitions creates the daily partitions of the request log from
// the day of from through ahead days after today, moving rows the default
// partition holds for a day into that day's new partition. A no-op on SQLite.
func EnsureLogPartitions(ctx context.Context, db bun.IDB, from time.Time, ahead int) error {
	if DialectOf(db) != Postgres {
		return nil
	}
	first := from.UTC().Truncate(24 * time.Hour)
	last := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, ahead)
	for day := first; !day.After(last); day = day.AddDate(0, 0, 1) {
		if err := ensurePartition(ctx, db, day); err != nil {
			return fmt.Errorf("store: partition for %s: %w", day.Format(time.DateOnly), err)
		}
	}
	return nil
}

func ensurePartition(ctx context.Context, db bun.IDB, day time.Time) error {
	name := partitionName(day)
	var exists bool
	if err := db.NewRaw("SELECT to_regclass(?) IS NOT NULL", name).Scan(ctx, &exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	next := day.AddDate(0, 0, 1)
	return runInTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
		// Made beside the table, filled from the default partition, then
		// attached: attaching checks that the default holds no row of the
		// day any more.
		steps := []struct {
			sql  string
			args []any
		}{
			{"CREATE TABLE ? (LIKE ? INCLUDING DEFAULTS)", []any{bun.Ident(name), bun.Ident(logTable)}},
			{"INSERT INTO ? SELECT * FROM ? WHERE start_time >= ? AND start_time < ?",
				[]any{bun.Ident(name), bun.Ident(logTable + "_default"), day, next}},
			{"DELETE FROM ? WHERE start_time >= ? AND start_time < ?", []any{bun.Ident(logTable + "_default"), day, next}},
			{"ALTER TABLE ? ATTACH PARTITION ? FOR VALUES FROM (?) TO (?)", []any{bun.Ident(logTable), bun.Ident(name), day, next}},
		}
		for _, s := range steps {
			if _, err := tx.ExecContext(ctx, s.sql, s.args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// DropLogPartitionsBefore drops the daily partitions wholly older than
// cutoff, and deletes the default partition's rows older than it; it
// returns the partitions dropped. A no-op on SQLite.
func DropLogPartitionsBefore(ctx context.Context, db bun.IDB, cutoff time.Time) ([]string, error) {
	if DialectOf(db) != Postgres {
		return nil, nil
	}
	var names []string
	err := db.NewRaw(`SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = ? AND c.relname LIKE ?`, logTable, logTable+"_p%").Scan(ctx, &names)
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, name := range names {
		day, err := time.Parse("20060102", strings.TrimPrefix(name, logTable+"_p"))
		if err != nil || day.AddDate(0, 0, 1).After(cutoff) {
			continue
		}
		if _, err := db.ExecContext(ctx, "DROP TABLE ?", bun.Ident(name)); err != nil {
			return dropped, err
		}
		dropped = append(dropped, name)
	}
	_, err = db.NewDelete().TableExpr("?", bun.Ident(logTable+"_default")).Where("start_time < ?", cutoff).Exec(ctx)
	return dropped, err
}

// runInTx runs fn in a transaction of db, or in db itself when it is one.
func runInTx(ctx context.Context, db bun.IDB, fn func(context.Context, bun.Tx) error) error {
	if tx, ok := db.(bun.Tx); ok {
		return fn(ctx, tx)
	}
	return db.RunInTx(ctx, nil, fn)
}
