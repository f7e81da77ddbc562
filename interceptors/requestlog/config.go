package requestlog

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
)

// Config tunes the request log. Start from DefaultConfig: a zero field means
// what its comment says, which is not always the default.
type Config struct {
	// ErrorsOnly records failed calls only: successful ones get no row, no
	// line and no statistics.
	ErrorsOnly bool
	// Lines chooses which recorded calls get a line in the server's log
	// (their rows and statistics are not affected): "all" (or empty),
	// "errors" (failed calls only), "off", or a share such as "0.01" — every
	// failed call and that share of successful ones, picked at random. A
	// line costs a formatted record and a write(2) per call.
	Lines string

	// PayloadBytes, when positive, captures the first request and response
	// message of each call as JSON, truncated to this size; fields marked
	// debug_redact and those in RedactFields become "[REDACTED]".
	PayloadBytes int
	// RedactFields are extra field paths ("pet.name") redacted in captured
	// payloads.
	RedactFields []string
	// FailedRowsPerPeer bounds the rows failed calls from one peer can take
	// per minute (a token bucket that refills over a minute) — calls by an
	// authenticated caller and permission_denied refusals aside. Past it a
	// call is still handed to the sinks, marked to be counted without a row,
	// and gets no log line, so a flood from one peer never pushes out other
	// callers' records. 0: no bound.
	FailedRowsPerPeer int
	// TrustedProxies are the proxies whose X-Forwarded-For names the peer.
	TrustedProxies []netip.Prefix
	// Logger receives the per-call line; nil is slog.Default().
	Logger *slog.Logger
}

// CheckLines reports whether lines is a valid Config.Lines.
func CheckLines(lines string) error {
	_, err := okLineShare(lines)
	return err
}

// okLineShare returns the share of successful calls that get a line (and
// whether failed calls do: always, but with "off").
func okLineShare(lines string) (float64, error) {
	switch lines {
	case "", "all":
		return 1, nil
	case "errors":
		return 0, nil
	case "off":
		return -1, nil
	}
	share, err := strconv.ParseFloat(lines, 64)
	if err != nil || !(share >= 0 && share <= 1) {
		return 0, fmt.Errorf("%q: want all, errors, off or a share between 0 and 1", lines)
	}
	return share, nil
}

// DefaultConfig returns the defaults: every call recorded with a line, no payloads, 600
// rows of failed calls per peer per minute.
func DefaultConfig() Config {
	return Config{Lines: "all", FailedRowsPerPeer: 600}
}
