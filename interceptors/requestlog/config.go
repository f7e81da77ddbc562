package requestlog

import (
	"log/slog"
	"net/netip"
)

// Config tunes the request log. Start from DefaultConfig: a zero field means
// what its comment says, which is not always the default.
type Config struct {
	// ErrorsOnly records failed calls only.
	ErrorsOnly bool
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

// DefaultConfig returns the defaults: every call recorded, no payloads, 600
// rows of failed calls per peer per minute.
func DefaultConfig() Config {
	return Config{FailedRowsPerPeer: 600}
}
