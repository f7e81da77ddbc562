package store

// How a batch goes into the database: in one transaction, its id (so a
// batch stored twice counts once), its rows and its rollups — with what is
// fastest on each dialect for the rows (docs/benchmarks.md measures both):
//
//   - SQLite: one prepared single-row INSERT, executed per row. SQLite
//     compiles it once per batch and each row only binds its values;
//     bun's multi-row INSERT is a new SQL text for every batch, parsed and
//     planned again each time (2× the cost per row).
//   - PostgreSQL: COPY, through pgx on the pool's own connection: rows
//     stream in PostgreSQL's copy format, nothing to parse per row (3.5×
//     cheaper than the multi-row INSERT it replaces).

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
)

// logColumns are the request log's columns in values's order: every
// column but the id, which the database assigns.
var logColumns = []string{
	"request_id", "procedure", "service", "method", "stream_type", "protocol", "http_version",
	"code", "error_message", "error_reason", "error_details", "start_time", "duration_us",
	"peer_ip", "user_agent", "key_id", "key_name", "request_bytes", "response_bytes",
	"messages_received", "messages_sent", "request_payload", "response_payload",
	"http_method", "http_route",
}

// values appends r's values in logColumns's order, with start standing for
// StartTime: the time itself for COPY (PostgreSQL's binary format), or the
// text bun writes for SQLite, so rows written here and queries built by bun
// compare alike.
func (r *RequestLog) values(args []any, start any) []any {
	return append(args,
		text(r.RequestID), text(r.Procedure), text(r.Service), text(r.Method), text(r.StreamType), text(r.Protocol), text(r.HTTPVersion),
		text(r.Code), text(r.ErrorMessage), text(r.ErrorReason), text(r.ErrorDetails), start, r.DurationMicros,
		text(r.PeerIP), text(r.UserAgent), text(r.KeyID), text(r.KeyName), r.RequestBytes, r.ResponseBytes,
		r.MessagesReceived, r.MessagesSent, text(r.RequestPayload), text(r.ResponsePayload),
		text(r.HTTPMethod), text(r.HTTPRoute),
	)
}

// text makes s storable on both dialects, as bun's literal SQL did: valid
// UTF-8 (PostgreSQL refuses anything else, and with it the whole COPY of a
// batch) and no NUL bytes. Much of a row comes from clients (User-Agent,
// error messages, payloads): one bad byte must not cost other calls their
// rows.
func text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// sqliteTime is t as bun writes it into SQLite's SQL: its dialect's
// literal, without the quotes.
func sqliteTime(db *bun.DB, b []byte, t time.Time) string {
	b = db.Dialect().AppendTime(b[:0], t)
	return string(b[1 : len(b)-1])
}

var insertLogRowSQL = "INSERT INTO switchboard_request_logs (" + strings.Join(logColumns, ", ") +
	") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(logColumns)), ", ") + ")"

// store writes one batch — its id, rows and rollups — in one transaction,
// and reports again when the id was already stored (then nothing else is).
// rows are not changed (no id is read back): other sinks may still be
// reading them.
func (w *LogWriter) store(ctx context.Context, batchID string, rows []*RequestLog, rollups []*Rollup) (again bool, err error) {
	if DialectOf(w.db) == Postgres {
		return w.storePostgres(ctx, batchID, rows, rollups)
	}
	err = w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewInsert().Model(&LogBatch{ID: batchID, WrittenAt: time.Now().UTC()}).
			On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			again = true
			return nil
		}
		if err := w.insertSQLiteRows(ctx, tx, rows); err != nil {
			return err
		}
		return addRollups(ctx, tx, w.opts.Instance, rollups)
	})
	return again, err
}

// storePostgres is store on PostgreSQL: a pgx transaction on one of the
// pool's connections, the rows by COPY.
func (w *LogWriter) storePostgres(ctx context.Context, batchID string, rows []*RequestLog, rollups []*Rollup) (again bool, err error) {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	err = conn.Raw(func(driverConn any) error {
		dc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: PostgreSQL connection is a %T, not pgx's", driverConn)
		}
		tx, err := dc.Conn().Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }() // after Commit: a no-op
		tag, err := tx.Exec(ctx, "INSERT INTO switchboard_log_batches (id, written_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
			batchID, time.Now().UTC())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			again = true
			return nil
		}
		if len(rows) > 0 {
			args := make([]any, 0, len(logColumns))
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"switchboard_request_logs"}, logColumns,
				pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
					return rows[i].values(args[:0], rows[i].StartTime), nil
				})); err != nil {
				return err
			}
		}
		if len(rollups) > 0 {
			// bun writes the UPSERT (one statement, values inline); pgx runs it here.
			upsert, err := rollupUpsert(w.db, w.opts.Instance, rollups).AppendQuery(w.db.QueryGen(), nil)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(upsert)); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	})
	return again, err
}

// insertSQLiteRows inserts rows with the prepared row INSERT.
func (w *LogWriter) insertSQLiteRows(ctx context.Context, tx bun.Tx, rows []*RequestLog) error {
	if len(rows) == 0 {
		return nil
	}
	// Prepared on the transaction's own connection: preparing on the pool
	// would need a second connection while this one holds the write lock,
	// and with the pool busy with transactions waiting for that lock, the
	// writer would wait on them as they wait on it. Once per batch, it
	// costs a parse per 500 rows.
	stmt, err := tx.PrepareContext(ctx, insertLogRowSQL)
	if err != nil {
		return err
	}
	defer stmt.Close()
	// The driver watches a cancellable context from a goroutine of its own
	// per statement: per row, that was a tenth of the writer's CPU. The
	// rows run on a context that cannot be cancelled, and the batch's
	// deadline is checked between them.
	rowCtx := context.WithoutCancel(ctx)
	args := make([]any, 0, len(logColumns))
	var timeBuf [40]byte
	for i, r := range rows {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if _, err := stmt.ExecContext(rowCtx, r.values(args[:0], sqliteTime(w.db, timeBuf[:0], r.StartTime))...); err != nil {
			return err
		}
	}
	return nil
}
