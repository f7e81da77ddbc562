package kit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect/v2"
	"github.com/uptrace/bun/migrate"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboardkit/switchboard/interceptors/auth"
	"github.com/switchboardkit/switchboard/interceptors/errmap"
	"github.com/switchboardkit/switchboard/interceptors/limit"
	"github.com/switchboardkit/switchboard/interceptors/requestlog"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/validate"
)

// Config is everything a Server is built from, in one plain struct. Its
// settings — every field of the kit's own and of the component configs it
// holds (DB, LogWriter, RequestLog, Auth, APIKeys, Limits, Errors) that has a
// flag — are data: DefaultConfig returns the defaults, each defined once, in
// the component that owns it; LoadEnv and RegisterFlags override them, in
// that order, so a flag beats an environment variable which beats the
// default. docs/configuration.md lists every knob; a test keeps the two in
// step. The fields under "Code" are what an application wires in Go; they
// have no flag.
type Config struct {
	// Addr is the TCP address to listen on. Port 0 picks a free port; the
	// server logs the address it actually bound.
	Addr string
	// DSN names the database: postgres://… for PostgreSQL, or a path,
	// sqlite:path or file:path for embedded SQLite (see store.ParseDSN).
	DSN string
	// TLSCertFile and TLSKeyFile, when both set, switch the listener to TLS
	// (ALPN h2 and http/1.1). A certificate that does not load is an error at
	// start; the server never falls back to plaintext.
	TLSCertFile string
	TLSKeyFile  string
	// TLSClientAuth asks clients for certificates (mTLS): "none" (the
	// default), "verify-if-given" (a certificate is optional, but one that is
	// sent must verify against TLSClientCAFile) or "require". A verified
	// certificate authenticates its caller (auth.ClientCerts), beside
	// API keys; a key sent with the call wins.
	TLSClientAuth string
	// TLSClientCAFile holds the CA certificates (PEM) client certificates
	// must chain to.
	TLSClientCAFile string
	// TLSClientScopes grant scopes to certificate identities, as
	// "identity=scope" items; an identity is a URI SAN (SPIFFE id), a DNS
	// SAN, or "cn:NAME" for the subject common name.
	TLSClientScopes []string
	// Reflection serves gRPC server reflection (v1 and v1alpha).
	Reflection bool
	// REST serves the REST routes methods declare with google.api.http
	// options, transcoded into calls of the same handlers (package rest,
	// docs/rest.md).
	REST bool
	// OpenAPI is the service's OpenAPI 3 document (YAML or JSON), built from
	// its protos by cmd/protoc-gen-switchboard-openapi. With APIDocs, the
	// server serves it at /openapi.yaml and /openapi.json and renders it at
	// /docs/ (package apidocs). nil: none.
	OpenAPI []byte
	// APIDocs serves OpenAPI and its /docs/ page when OpenAPI is set.
	APIDocs bool
	// MaxReceiveBytes caps one received message, before and after
	// decompression; a larger one fails the call with RESOURCE_EXHAUSTED.
	// 0: no limit.
	MaxReceiveBytes int
	// MaxSendBytes caps one sent message; a handler's larger response fails
	// with RESOURCE_EXHAUSTED (RESPONSE_TOO_LARGE). 0 (the default): no
	// limit — a server should not refuse to answer what it was asked.
	MaxSendBytes int
	// Gzip lets the server compress responses for clients that accept gzip.
	Gzip bool
	// CompressMinBytes is the smallest response message that is compressed:
	// compressing tiny messages costs CPU and saves nothing.
	CompressMinBytes int
	// ReadHeaderTimeout bounds how long a client may take to send request
	// headers. It does not limit long-lived streams.
	ReadHeaderTimeout time.Duration
	// ReadBodyTimeout bounds how long a client may take to send its request
	// body; the deadline is lifted once the body is read, so a response
	// stream is never cut, and for client and bidi streams once the call is
	// admitted past auth and the stream caps. 0: no bound.
	ReadBodyTimeout time.Duration
	// IdleTimeout closes keep-alive connections with no request in flight;
	// on HTTP/2 it also bounds a header block trickled in CONTINUATION frames
	// on a connection with no open stream.
	IdleTimeout time.Duration
	// MaxConcurrentStreams caps concurrent HTTP/2 streams per connection.
	MaxConcurrentStreams int
	// ReadBufferBytes is the read buffer of each accepted connection: what
	// the client has sent is taken in one system call instead of two per
	// HTTP/2 frame (kit/conn.go; gRPC-Go's default is the same 32 KiB). It
	// is memory per open connection. 0: no buffer.
	ReadBufferBytes int
	// CoalesceWrites gathers what the HTTP/2 server writes on a connection
	// in one moment — a response's headers, data and trailers, and other
	// responses finished meanwhile — into one write(2) instead of one per
	// frame (kit/conn.go). No timer is involved: a lone response goes out
	// as soon as its writers are done.
	CoalesceWrites bool
	// ShutdownDelay is how long health reports NOT_SERVING while the server
	// still accepts calls, so load balancers can stop sending traffic first.
	ShutdownDelay time.Duration
	// ShutdownGrace is how long in-flight calls and streams may take to finish
	// once shutdown starts; after it, their contexts are cancelled.
	ShutdownGrace time.Duration

	// TrustedProxies are the proxies (CIDRs) whose X-Forwarded-For is
	// believed; New sets them on the request log, auth and the limiter.
	TrustedProxies []netip.Prefix

	// CORSAllowedOrigins lets browsers on these origins call the API:
	// exact ("https://app.example.com") or with one wildcard
	// ("https://*.example.com"). Empty (the default) turns CORS off: no
	// cross-origin call is allowed.
	CORSAllowedOrigins []string
	// CORSAllowCredentials lets cross-origin calls carry cookies and HTTP
	// authentication (API keys in headers need no credentials mode).
	CORSAllowCredentials bool
	// CORSMaxAge is how long browsers may cache a preflight answer.
	CORSMaxAge time.Duration

	// Metrics serves Prometheus metrics at /metrics on the same port.
	Metrics bool
	// LogLevel is the level of the server's own log made by Config.Logger:
	// "debug" (also the causes of callers' mistakes), "info" (one line per
	// call), "warn" or "error".
	LogLevel string
	// FirstAdminKey makes the first admin key (scopes "admin" and "*") when
	// the server starts on a database with no API key at all, and prints it
	// once on stderr, so a fresh server can be signed in to at once. Turn it
	// off in production, where keys are made on purpose.
	FirstAdminKey bool
	// Admin serves the admin API (switchboard.admin.v1.AdminService,
	// protected: keys need the scope "admin").
	Admin bool

	// LogSpillDir is where request-log batches wait on local disk while the
	// database is unavailable. Empty (the default): derived from the DSN —
	// beside a SQLite file ("<file>-log-spill"), or for PostgreSQL a
	// directory named for the database under the user's cache directory
	// ($XDG_CACHE_HOME or ~/.cache/switchboard); "off": no spill. New sets
	// LogWriter.SpillDir from it.
	LogSpillDir string
	// LogStore is what the request log keeps in the database: "rows" (the
	// default: a row per call, and per-minute statistics), "stats" (the
	// statistics only — the admin overview and charts, no rows to browse)
	// or "off" (nothing; the log line and metrics stay). Every row is an
	// insert; docs/benchmarks.md measures each choice.
	LogStore string

	// The components' configs. New sets in them what the server owns: the
	// logger where none is set, TrustedProxies from the field above, the
	// event bus and the limiter's counters.

	// DB opens the database (pool size, SQLite busy timeout).
	DB store.Config
	// LogWriter writes the request log.
	LogWriter store.WriterConfig
	// RequestLog records each call.
	RequestLog requestlog.Config
	// LogSkipProcedures are procedure patterns the request log does not see
	// at all (no row, no line, no metrics); selector.Except keeps it off them.
	LogSkipProcedures []string
	// Auth decides who may call what.
	Auth auth.Config
	// APIKeys tunes the built-in API keys.
	APIKeys auth.KeysConfig
	// Limits caps calls and streams.
	Limits limit.Config
	// Errors maps errors to statuses; the error-info flag sets AuthoredAsIs.
	Errors errmap.Config

	// Code: what an application wires in Go; no flag or variable sets these.

	// Logger receives the server's own events; nil is slog.Default().
	Logger *slog.Logger
	// Migrations are the application's bun migration sets, applied by New
	// after the kit's, in order, each under its own bookkeeping tables
	// (name_migrations).
	Migrations []Migrations
	// Interceptors run after the kit's own chain, closest to the handler, in
	// order (docs/interceptors.md).
	Interceptors []connect.ServerInterceptor
	// Authenticator replaces the built-in API-key authenticator (for JWTs,
	// …); the access policy and scope checks stay the kit's, and API keys can
	// still be created and revoked.
	Authenticator auth.Authenticator
	// TracerProvider turns on tracing: one OpenTelemetry server span per
	// call, continuing the caller's W3C trace context (docs/monitoring.md).
	TracerProvider trace.TracerProvider
	// Validator is the validation engine; nil is validate.New(), reachable
	// through Server.Validator to register Go-side rules.
	Validator *validate.Engine
	// CallSinks receive the record of every finished call, after the kit's
	// own (requestlog.Sink: quick, never blocking).
	CallSinks []requestlog.Sink
	// FirstKeyOutput is where the first admin key is printed (see
	// FirstAdminKey); nil is os.Stderr.
	FirstKeyOutput io.Writer

	logOutput *lineBuffer // set by NewLogger
}

// Migrations is a named set of bun migrations (Config.Migrations).
type Migrations struct {
	Name string
	Set  *migrate.Migrations
}

// DefaultConfig returns the defaults: the kit's own below, the components'
// from their DefaultConfig functions.
func DefaultConfig() Config {
	return Config{
		Addr:                 ":8080",
		DSN:                  "sqlite:data/switchboard.db",
		Reflection:           false,
		REST:                 true,
		APIDocs:              true,
		MaxReceiveBytes:      4 << 20,
		Gzip:                 true,
		CompressMinBytes:     1024,
		ReadHeaderTimeout:    10 * time.Second,
		ReadBodyTimeout:      time.Minute,
		IdleTimeout:          2 * time.Minute,
		MaxConcurrentStreams: 250,
		ReadBufferBytes:      32 << 10,
		CoalesceWrites:       true,
		ShutdownDelay:        0,
		ShutdownGrace:        10 * time.Second,
		TLSClientAuth:        "none",
		CORSMaxAge:           2 * time.Hour,
		Metrics:              true,
		Admin:                true,
		FirstAdminKey:        true,
		LogLevel:             "info",
		LogStore:             "rows",
		DB:                   store.DefaultConfig(),
		LogWriter:            store.DefaultWriterConfig(),
		RequestLog:           requestlog.DefaultConfig(),
		Auth:                 auth.DefaultConfig(),
		APIKeys:              auth.DefaultKeysConfig(),
		Limits:               limit.DefaultConfig(),
		Errors:               errmap.DefaultConfig(),
	}
}

// Validate reports the first knob with an impossible value.
func (c *Config) Validate() error {
	switch {
	case c.Addr == "":
		return fmt.Errorf("kit: addr is empty")
	case c.DSN == "":
		return fmt.Errorf("kit: dsn is empty")
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		return fmt.Errorf("kit: tls-cert and tls-key must be set together")
	case c.TLSClientAuth != "none" && c.TLSClientAuth != "verify-if-given" && c.TLSClientAuth != "require":
		return fmt.Errorf("kit: tls-client-auth %q: want none, verify-if-given or require", c.TLSClientAuth)
	case c.TLSClientAuth != "none" && (c.TLSCertFile == "" || c.TLSClientCAFile == ""):
		return fmt.Errorf("kit: tls-client-auth needs tls-cert, tls-key and tls-client-ca")
	case c.MaxReceiveBytes < 0, c.MaxSendBytes < 0:
		return fmt.Errorf("kit: max-receive-bytes and max-send-bytes must not be negative (0: no limit)")
	case c.ReadBufferBytes < 0:
		return fmt.Errorf("kit: read-buffer-bytes must not be negative (0: no buffer)")
	case c.CompressMinBytes < 0:
		return fmt.Errorf("kit: compress-min-bytes must not be negative")
	case c.MaxConcurrentStreams <= 0:
		return fmt.Errorf("kit: max-concurrent-streams must be positive")
	case c.ReadHeaderTimeout <= 0, c.IdleTimeout <= 0:
		return fmt.Errorf("kit: read-header-timeout and idle-timeout must be positive")
	case c.DB.BusyTimeout < 0:
		return fmt.Errorf("kit: db-busy-timeout must not be negative")
	case c.ReadBodyTimeout < 0:
		return fmt.Errorf("kit: read-body-timeout must not be negative")
	case c.ShutdownDelay < 0, c.ShutdownGrace < 0:
		return fmt.Errorf("kit: shutdown-delay and shutdown-grace must not be negative")
	case c.LogWriter.SpillMaxBytes <= 0:
		return fmt.Errorf("kit: log-spill-bytes must be positive")
	case c.RequestLog.FailedRowsPerPeer < 0:
		return fmt.Errorf("kit: log-failed-rows-per-peer must not be negative")
	case c.LogWriter.QueueSize <= 0, c.LogWriter.BatchSize <= 0, c.LogWriter.FlushInterval <= 0:
		return fmt.Errorf("kit: log-queue-size, log-batch-size and log-flush-interval must be positive")
	case c.LogStore != "rows" && c.LogStore != "stats" && c.LogStore != "off":
		return fmt.Errorf("kit: log-store %q: want rows, stats or off", c.LogStore)
	case c.logLevel() == nil:
		return fmt.Errorf("kit: log-level %q: want debug, info, warn or error", c.LogLevel)
	case c.Auth.FailureLimit < 0, c.Auth.FailureLimit > 0 && c.Auth.FailureWindow <= 0:
		return fmt.Errorf("kit: auth-failure-limit must not be negative, and needs a positive auth-failure-window")
	case c.APIKeys.CacheTTL < 0, c.LogWriter.Retention < 0, c.RequestLog.PayloadBytes < 0, c.CORSMaxAge < 0:
		return fmt.Errorf("kit: api-key-cache-ttl, log-retention, log-payload-bytes and cors-max-age must not be negative")
	}
	if err := requestlog.CheckLines(c.RequestLog.Lines); err != nil {
		return fmt.Errorf("kit: log-lines %w", err)
	}
	if _, err := auth.ParseIdentityScopes(c.TLSClientScopes); err != nil {
		return fmt.Errorf("kit: tls-client-scopes: %w", err)
	}
	for _, o := range c.CORSAllowedOrigins {
		if strings.Count(o, "*") > 1 || (o == "*" && c.CORSAllowCredentials) {
			return fmt.Errorf("kit: cors-allowed-origins: %q: one wildcard at most, and \"*\" cannot allow credentials", o)
		}
	}
	l := c.Limits
	if l.MaxInFlight < 0 || l.MaxInFlightPerMethod < 0 || l.Wait < 0 {
		return fmt.Errorf("kit: max-in-flight, max-in-flight-per-method and limit-wait must not be negative")
	}
	if l.MaxStreams < 0 || l.MaxStreamsPerMethod < 0 || l.MaxAnonymousStreams < 0 || l.MaxAnonymousStreamsPerPeer < 0 {
		return fmt.Errorf("kit: max-streams, max-streams-per-method, max-anonymous-streams and max-anonymous-streams-per-peer must not be negative")
	}
	return nil
}

// spillDir resolves LogSpillDir: "" when off (or for an in-memory
// database), else the configured or derived directory.
func (c *Config) spillDir() string {
	switch c.LogSpillDir {
	case "off":
		return ""
	case "":
	default:
		return c.LogSpillDir
	}
	dialect, source, err := store.ParseDSN(c.DSN)
	if err != nil {
		return ""
	}
	path, query, _ := strings.Cut(source, "?")
	if dialect == store.SQLite {
		if path == ":memory:" || strings.Contains(query, "mode=memory") {
			return ""
		}
		return path + "-log-spill"
	}
	u, err := url.Parse(source)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(u.Host + u.Path + u.User.Username()))
	base, err := os.UserCacheDir() // private to the user, unlike the shared temp directory
	if err != nil {
		return ""
	}
	return filepath.Join(base, "switchboard", "log-spill-"+hex.EncodeToString(sum[:6]))
}

func (c *Config) logLevel() *slog.Level {
	levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	l, ok := levels[strings.ToLower(c.LogLevel)]
	if !ok {
		return nil
	}
	return &l
}

// NewLogger returns a text logger on w at LogLevel (info if it is not
// valid): what a main puts in Logger. Its lines are buffered (kit/
// logoutput.go): written at least every 100 ms, at once for warnings and
// errors, and when the server stops.
func (c *Config) NewLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if l := c.logLevel(); l != nil {
		level = *l
	}
	out := &lineBuffer{out: w}
	c.logOutput = out // flushed by Run, whatever handler ends up wrapping this one
	return slog.New(bufferedHandler{slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}), out})
}
