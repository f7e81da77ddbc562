package errmap

import "log/slog"

// Config tunes error mapping. Start from DefaultConfig.
type Config struct {
	// Rules are tried before DefaultRules, so they win.
	Rules []Rule
	// AuthoredAsIs sends a *connect.Error authored by a handler or by the
	// transport (a decode error, a size limit) exactly as authored, without
	// the ErrorInfo the kit otherwise appends; errors the kit maps or
	// authors still carry theirs. For protocol test suites and for services
	// whose clients compare error details exactly.
	AuthoredAsIs bool
	// Logger receives causes and panics; nil is slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: the kit's table alone, and every
// error carrying the kit's ErrorInfo (its domain is always "switchboard",
// the same for the errors auth and the limiter author).
func DefaultConfig() Config { return Config{} }
