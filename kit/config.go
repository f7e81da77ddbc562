package kit

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
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
	// certificate authenticates its caller (interceptors.ClientCerts), beside
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

	// DB opens the database (pool size, SQLite busy timeout).
	DB store.Config
	// LogWriter writes the request log. An empty SpillDir is derived from
	// the DSN (beside a SQLite file; under the user's cache directory for
	// PostgreSQL); "off" turns the spill off.
	LogWriter store.WriterConfig
	// RequestLog records each call; New sets its TrustedProxies and Logger.
	RequestLog requestlog.Config
	// LogSkipProcedures are procedure patterns the request log does not see
	// at all (no row, no line, no metrics); selector.Except keeps it off them.
	LogSkipProcedures []string
	// Auth decides who may call what; New sets its TrustedProxies and Events.
	Auth auth.Config
	// APIKeys tunes the built-in API keys; New sets its Logger and Events.
	APIKeys auth.KeysConfig
	// Limits caps calls and streams; New sets its TrustedProxies and
	// Counters.
	Limits limit.Config
	// Errors maps errors to statuses; the error-info flag sets AuthoredAsIs,
	// New sets its Logger when nil.
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
}

// Migrations is a named set of bun migrations (Config.Migrations).
type Migrations struct {
	Name string
	Set  *migrate.Migrations
}

// EnvPrefix prefixes every environment variable the kit reads.
const EnvPrefix = "SWITCHBOARD_"

// DefaultConfig returns the defaults: the kit's own below, the components'
// from their DefaultConfig functions.
func DefaultConfig() Config {
	return Config{
		Addr:                 ":8080",
		DSN:                  "sqlite:data/switchboard.db",
		Reflection:           false,
		MaxReceiveBytes:      4 << 20,
		Gzip:                 true,
		CompressMinBytes:     1024,
		ReadHeaderTimeout:    10 * time.Second,
		ReadBodyTimeout:      time.Minute,
		IdleTimeout:          2 * time.Minute,
		MaxConcurrentStreams: 250,
		ShutdownDelay:        0,
		ShutdownGrace:        10 * time.Second,
		TLSClientAuth:        "none",
		CORSMaxAge:           2 * time.Hour,
		Metrics:              true,
		Admin:                true,
		FirstAdminKey:        true,
		LogLevel:             "info",
		DB:                   store.DefaultConfig(),
		LogWriter:            store.DefaultWriterConfig(),
		RequestLog:           requestlog.DefaultConfig(),
		Auth:                 auth.DefaultConfig(),
		APIKeys:              auth.DefaultKeysConfig(),
		Limits:               limit.DefaultConfig(),
	}
}

// knob binds one Config field to its flag and environment variable. The flag
// name is the single source: "max-receive-bytes" is read from
// SWITCHBOARD_MAX_RECEIVE_BYTES.
type knob struct {
	name  string
	usage string
	value flag.Value
}

func (c *Config) knobs() []knob {
	return []knob{
		{"addr", "address to listen on (port 0 picks a free port)", (*stringValue)(&c.Addr)},
		{"dsn", "database: postgres://… or a SQLite path (sqlite:path, file:path)", (*stringValue)(&c.DSN)},
		{"tls-cert", "TLS certificate file (PEM); with -tls-key, serve TLS only", (*stringValue)(&c.TLSCertFile)},
		{"tls-key", "TLS private key file (PEM)", (*stringValue)(&c.TLSKeyFile)},
		{"tls-client-auth", "client certificates: none, verify-if-given or require", (*stringValue)(&c.TLSClientAuth)},
		{"tls-client-ca", "CA certificates (PEM) that client certificates must chain to", (*stringValue)(&c.TLSClientCAFile)},
		{"tls-client-scopes", "comma-separated identity=scope grants for client certificates", (*listValue)(&c.TLSClientScopes)},
		{"reflection", "serve gRPC server reflection", (*boolValue)(&c.Reflection)},
		{"max-receive-bytes", "largest message received, in bytes (0: no limit)", (*intValue)(&c.MaxReceiveBytes)},
		{"max-send-bytes", "largest message sent, in bytes (0: no limit)", (*intValue)(&c.MaxSendBytes)},
		{"gzip", "compress responses for clients that accept gzip", (*boolValue)(&c.Gzip)},
		{"compress-min-bytes", "smallest response message that is compressed", (*intValue)(&c.CompressMinBytes)},
		{"read-header-timeout", "time allowed to read request headers", (*durationValue)(&c.ReadHeaderTimeout)},
		{"read-body-timeout", "time allowed to send a request body, until read or, for client streams, admitted (0: no bound)", (*durationValue)(&c.ReadBodyTimeout)},
		{"idle-timeout", "close keep-alive connections idle this long", (*durationValue)(&c.IdleTimeout)},
		{"max-concurrent-streams", "concurrent HTTP/2 streams per connection", (*intValue)(&c.MaxConcurrentStreams)},
		{"shutdown-delay", "report NOT_SERVING this long before refusing calls", (*durationValue)(&c.ShutdownDelay)},
		{"shutdown-grace", "time in-flight calls get to finish on shutdown", (*durationValue)(&c.ShutdownGrace)},
		{"db-max-open-conns", "database connection pool size (0: dialect default)", (*intValue)(&c.DB.MaxOpenConns)},
		{"db-busy-timeout", "how long a SQLite write waits for the write lock", (*durationValue)(&c.DB.BusyTimeout)},
		{"log-queue-size", "request-log records queued before new ones are dropped", (*intValue)(&c.LogWriter.QueueSize)},
		{"log-batch-size", "request-log rows per insert transaction", (*intValue)(&c.LogWriter.BatchSize)},
		{"log-flush-interval", "longest wait before a partial batch is written", (*durationValue)(&c.LogWriter.FlushInterval)},
		{"log-retention", "delete request-log rows older than this (0: keep)", (*durationValue)(&c.LogWriter.Retention)},
		{"log-spill-dir", "where request-log batches wait while the database is down (empty: derived from the DSN; off: none)", (*stringValue)(&c.LogWriter.SpillDir)},
		{"log-spill-bytes", "largest request-log spill on disk, in bytes", (*int64Value)(&c.LogWriter.SpillMaxBytes)},
		{"log-payload-bytes", "capture request/response JSON up to this size (0: off)", (*intValue)(&c.RequestLog.PayloadBytes)},
		{"log-redact-fields", "comma-separated field paths redacted in captured payloads", (*listValue)(&c.RequestLog.RedactFields)},
		{"log-skip-procedures", "comma-separated procedure patterns not logged", (*listValue)(&c.LogSkipProcedures)},
		{"log-errors-only", "log failed calls only", (*boolValue)(&c.RequestLog.ErrorsOnly)},
		{"log-failed-rows-per-peer", "rows failed calls from one peer may take per minute; more are only counted (0: no bound)", (*intValue)(&c.RequestLog.FailedRowsPerPeer)},
		{"trusted-proxies", "comma-separated CIDRs whose X-Forwarded-For is believed", (*prefixListValue)(&c.TrustedProxies)},
		{"public-procedures", "comma-separated procedure patterns callable without a key", (*listValue)(&c.Auth.Public)},
		{"protected-procedures", "comma-separated procedure patterns that always need a key", (*listValue)(&c.Auth.Protected)},
		{"api-key-header", "header that may carry an API key", (*stringValue)(&c.APIKeys.Header)},
		{"api-key-cache-ttl", "how long a verified key is trusted without a lookup", (*durationValue)(&c.APIKeys.CacheTTL)},
		{"auth-failure-limit", "bad credentials per peer per window before further bad ones are refused (0: off)", (*intValue)(&c.Auth.FailureLimit)},
		{"auth-failure-window", "window of the auth failure limit", (*durationValue)(&c.Auth.FailureWindow)},
		{"max-in-flight", "calls running at once over the server (0: no cap)", (*intValue)(&c.Limits.MaxInFlight)},
		{"max-in-flight-per-method", "calls running at once per method (0: no cap)", (*intValue)(&c.Limits.MaxInFlightPerMethod)},
		{"max-streams", "streaming calls open at once over the server (0: no cap)", (*intValue)(&c.Limits.MaxStreams)},
		{"max-streams-per-method", "streaming calls open at once per method (0: no cap)", (*intValue)(&c.Limits.MaxStreamsPerMethod)},
		{"max-anonymous-streams", "streaming calls open at once without credentials (0: no cap)", (*intValue)(&c.Limits.MaxAnonymousStreams)},
		{"max-anonymous-streams-per-peer", "streaming calls one peer may have open without credentials (0: no cap)", (*intValue)(&c.Limits.MaxAnonymousStreamsPerPeer)},
		{"limit-wait", "how long a call over a cap waits for a slot (0: refuse at once)", (*durationValue)(&c.Limits.Wait)},
		{"default-deadlines", "comma-separated pattern=duration deadlines for calls without one", (*deadlinesValue)(&c.Limits.Deadlines)},
		{"cors-allowed-origins", "comma-separated origins browsers may call from (empty: CORS off)", (*listValue)(&c.CORSAllowedOrigins)},
		{"cors-allow-credentials", "allow credentialed cross-origin calls", (*boolValue)(&c.CORSAllowCredentials)},
		{"cors-max-age", "how long browsers cache a preflight answer", (*durationValue)(&c.CORSMaxAge)},
		{"error-info", "which errors carry the kit's ErrorInfo: all, or mapped (connect errors authored elsewhere go as authored)", (*errorInfoValue)(&c.Errors.AuthoredAsIs)},
		{"metrics", "serve Prometheus metrics at /metrics", (*boolValue)(&c.Metrics)},
		{"log-level", "level of the server's log: debug, info, warn or error", (*stringValue)(&c.LogLevel)},
		{"first-admin-key", "on a database with no API key, make an admin key and print it once on stderr", (*boolValue)(&c.FirstAdminKey)},
		{"admin", "serve the admin API (keys need the scope admin)", (*boolValue)(&c.Admin)},
	}
}

// EnvName returns the environment variable read for a flag name.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// LoadEnv overrides c with every SWITCHBOARD_* variable that lookup finds
// (pass os.LookupEnv). A malformed value is an error naming the variable.
func (c *Config) LoadEnv(lookup func(string) (string, bool)) error {
	for _, k := range c.knobs() {
		env := EnvName(k.name)
		if v, ok := lookup(env); ok {
			if err := k.value.Set(v); err != nil {
				return fmt.Errorf("kit: %s=%q: %w", env, v, err)
			}
		}
	}
	return nil
}

// RegisterFlags defines one flag per knob on fs, with c's current values as
// defaults; parsing fs then writes into c.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	for _, k := range c.knobs() {
		fs.Var(k.value, k.name, k.usage+" (env "+EnvName(k.name)+")")
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
	case c.logLevel() == nil:
		return fmt.Errorf("kit: log-level %q: want debug, info, warn or error", c.LogLevel)
	case c.APIKeys.Header == "":
		return fmt.Errorf("kit: api-key-header is empty")
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

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type boolValue bool

func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err == nil {
		*v = boolValue(b)
	}
	return err
}

type intValue int

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err == nil {
		*v = intValue(n)
	}
	return err
}

type int64Value int64

func (v *int64Value) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		*v = int64Value(n)
	}
	return err
}

// prefixListValue reads comma-separated CIDRs.
type prefixListValue []netip.Prefix

func (v *prefixListValue) String() string {
	parts := make([]string, len(*v))
	for i, p := range *v {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

func (v *prefixListValue) Set(s string) error {
	var out []netip.Prefix
	for _, part := range splitList(s) {
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR", part)
		}
		out = append(out, p)
	}
	*v = out
	return nil
}

// deadlinesValue reads comma-separated pattern=duration items.
type deadlinesValue []limit.Deadline

func (v *deadlinesValue) String() string {
	parts := make([]string, len(*v))
	for i, d := range *v {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

func (v *deadlinesValue) Set(s string) error {
	var out []limit.Deadline
	for _, part := range splitList(s) {
		d, err := limit.ParseDeadline(part)
		if err != nil {
			return err
		}
		out = append(out, d)
	}
	*v = out
	return nil
}

// errorInfoValue reads "all" (every error carries the kit's ErrorInfo) or
// "mapped" (errors authored elsewhere go as authored).
type errorInfoValue bool

func (v *errorInfoValue) String() string {
	if *v {
		return "mapped"
	}
	return "all"
}

func (v *errorInfoValue) Set(s string) error {
	switch s {
	case "all":
		*v = false
	case "mapped":
		*v = true
	default:
		return fmt.Errorf("%q: want all or mapped", s)
	}
	return nil
}

type listValue []string

func (v *listValue) String() string { return strings.Join(*v, ",") }
func (v *listValue) Set(s string) error {
	*v = splitList(s)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err == nil {
		*v = durationValue(d)
	}
	return err
}

// spillDir resolves LogSpillDir: "" when off (or for an in-memory
// database), else the configured or derived directory.
func (c *Config) spillDir() string {
	switch c.LogWriter.SpillDir {
	case "off":
		return ""
	case "":
	default:
		return c.LogWriter.SpillDir
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
// valid): what a main puts in Logger.
func (c *Config) NewLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if l := c.logLevel(); l != nil {
		level = *l
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
