package store

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// LogFilter selects request-log rows; zero fields select everything.
type LogFilter struct {
	From, To      time.Time // start_time in [From, To) when both are set
	Service       string
	Method        string
	Code          string
	KeyID         string
	RequestID     string
	ErrorContains string // a substring of the error message (no wildcards)
	BeforeID      int64  // rows with a smaller id: keyset paging, newest first
}

// ListRequestLogs returns up to limit rows matching f, newest first.
func ListRequestLogs(ctx context.Context, db bun.IDB, f LogFilter, limit int) ([]*RequestLog, error) {
	var rows []*RequestLog
	q := db.NewSelect().Model(&rows)
	if !f.From.IsZero() && !f.To.IsZero() {
		q = q.Where("start_time >= ? AND start_time < ?", f.From, f.To)
	}
	for _, c := range []struct{ col, v string }{
		{"service", f.Service}, {"method", f.Method}, {"code", f.Code},
		{"key_id", f.KeyID}, {"request_id", f.RequestID},
	} {
		if c.v != "" {
			q = q.Where("? = ?", bun.Ident(c.col), c.v)
		}
	}
	if f.ErrorContains != "" {
		q = q.Where("error_message LIKE ? ESCAPE '\\'", "%"+likeEscape(f.ErrorContains)+"%")
	}
	if f.BeforeID > 0 {
		q = q.Where("id < ?", f.BeforeID)
	}
	err := q.OrderExpr("id DESC").Limit(int64(limit)).Scan(ctx)
	return rows, err
}

// FindRequestLog returns the newest row with requestID.
func FindRequestLog(ctx context.Context, db bun.IDB, requestID string) (*RequestLog, error) {
	row := new(RequestLog)
	err := db.NewSelect().Model(row).Where("request_id = ?", requestID).OrderExpr("id DESC").Limit(1).Scan(ctx)
	if err != nil {
		return nil, err
	}
	return row, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
