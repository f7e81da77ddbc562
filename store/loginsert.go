package store

// How a batch's rows go into the database, per dialect.
//
// SQLite: one prepared single-row INSERT, executed per row inside the
// batch's transaction. SQLite compiles the statement once per connection
// and each row only binds its values; bun's multi-row INSERT is a new SQL
// text for every batch, which SQLite must parse and plan again
// (docs/benchmarks.md has the measurement). PostgreSQL: one multi-row
// INSERT per batch through bun, which a network round trip per row would
// not beat.

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// logColumns are the request log's columns in insertArgs's order: every
// column but the id, which the database assigns.
var logColumns = []string{
	"request_id", "procedure", "service", "method", "stream_type", "protocol", "http_version",
	"code", "error_message", "error_reason", "error_details", "start_time", "duration_us",
	"peer_ip", "user_agent", "key_id", "key_name", "request_bytes", "response_bytes",
	"messages_received", "messages_sent", "request_payload", "response_payload",
}

// insertArgs appends r's values in logColumns's order. Times are bound as
// the text bun writes for SQLite, so rows written here and queries built by
// bun compare alike.
func (r *RequestLog) insertArgs(args []any, timeBuf []byte) []any {
	return append(args,
		r.RequestID, r.Procedure, r.Service, r.Method, r.StreamType, r.Protocol, r.HTTPVersion,
		r.Code, r.ErrorMessage, r.ErrorReason, r.ErrorDetails, string(sqliteTime(timeBuf, r.StartTime)), r.DurationMicros,
		r.PeerIP, r.UserAgent, r.KeyID, r.KeyName, r.RequestBytes, r.ResponseBytes,
		r.MessagesReceived, r.MessagesSent, r.RequestPayload, r.ResponsePayload,
	)
}

// sqliteTime formats t as bun's SQLite dialect does (schema.BaseDialect
// AppendTime, without its quotes).
func sqliteTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b[:0], "2006-01-02 15:04:05.999999-07:00")
}

var insertLogRowSQL = "INSERT INTO switchboard_request_logs (" + strings.Join(logColumns, ", ") +
	") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(logColumns)), ", ") + ")"

// insertRows stores rows inside tx; rows are not changed (no id is read
// back), so other sinks may still be reading them.
func (w *LogWriter) insertRows(ctx context.Context, tx bun.Tx, rows []*RequestLog) error {
	if DialectOf(w.db) == Postgres {
		_, err := tx.NewInsert().Model(&rows).Returning("NULL").Exec(ctx)
		return err
	}
	if w.rowStmt == nil {
		stmt, err := w.db.DB.PrepareContext(ctx, insertLogRowSQL)
		if err != nil {
			return err
		}
		w.rowStmt = stmt
	}
	stmt := tx.StmtContext(ctx, w.rowStmt) // prepared once per connection, then reused
	defer stmt.Close()
	args := make([]any, 0, len(logColumns))
	var timeBuf [40]byte
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r.insertArgs(args[:0], timeBuf[:0])...); err != nil {
			return err
		}
	}
	return nil
}

// closeStatements releases the prepared statements; the writer's goroutine
// calls it when it ends.
func (w *LogWriter) closeStatements() {
	if w.rowStmt != nil {
		_ = w.rowStmt.Close()
		w.rowStmt = nil
	}
}
