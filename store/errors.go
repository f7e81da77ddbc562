package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// SQLite result codes (the primary code is the low byte of an extended one).
const (
	sqliteBusy             = 5
	sqliteLocked           = 6
	sqliteIOErr            = 10
	sqliteFull             = 13
	sqliteConstraintPK     = 1555
	sqliteConstraintUnique = 2067
)

// IsUniqueViolation reports whether err is a unique or primary-key
// constraint violation, on either dialect.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqliteConstraintUnique || liteErr.Code() == sqliteConstraintPK
	}
	return false
}

// IsUnavailable reports whether err means the database cannot be reached,
// is too busy, or cannot write (disk full, I/O error) right now — worth
// retrying later, not a bug in the request.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		primary := liteErr.Code() & 0xff
		return primary == sqliteBusy || primary == sqliteLocked || primary == sqliteFull || primary == sqliteIOErr
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || // connection exception
			pgErr.Code == "53300" || // too many connections
			pgErr.Code == "53100" || // disk full
			pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" // shutting down, cannot connect now
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		strings.Contains(err.Error(), "sql: database is closed")
}
