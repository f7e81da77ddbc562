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

	"github.com/switchboardkit/switchboard/interceptors"
	"github.com/switchboardkit/switchboard/store"
)

// Config holds every knob of a Server. DefaultConfig returns the documented
// defaults; LoadEnv and RegisterFlags override them, in that order, so a flag
// beats an environment variable which beats the default. docs/configuration.md
// lists every knob; a test keeps the two in step.
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
	// DBMaxOpenConns caps the database pool (on SQLite, each of the write
	// and the read pool); 0 picks the dialect's default.
	DBMaxOpenConns int
	// DBBusyTimeout is how long a SQLite write waits for the write lock
	// before it fails with UNAVAILABLE; reads never wait for it.
	DBBusyTimeout time.Duration

	// LogQueueSize bounds request-log records waiting to be written; when
	// full, records are dropped and counted, never blocking a call.
	LogQueueSize int
	// LogBatchSize is the most request-log rows one transaction inserts.
	LogBatchSize int
	// LogFlushInterval is the longest a record waits for a full batch.
	LogFlushInterval time.Duration
	// LogRetention deletes request-log rows older than this (hourly); 0
	// keeps them all.
	LogRetention time.Duration
	// LogSpillDir is where request-log batches wait on local disk while the
	// database is unavailable, fsynced and replayed in order when it is back
	// (by the next run too, after a crash). Empty (the default): beside a
	// SQLite file ("<file>-log-spill"), or for PostgreSQL a directory named
	// for the database under the user's cache directory
	// ($XDG_CACHE_HOME or ~/.cache/switchboard). "off": no spill (batches are
	// retried for ~30 s, then lost and counted). One directory per process;
	// it must belong to the server's user and be closed to others.
	LogSpillDir string
	// LogSpillBytes caps the spill; batches past it are lost and counted
	// (their calls stay in the statistics).
	LogSpillBytes int
	// LogPayloadBytes, when positive, captures the first request and
	// response message of each call as JSON, truncated to this size.
	LogPayloadBytes int
	// LogRedactFields are extra field paths ("pet.name") replaced by
	// "[REDACTED]" in captured payloads; fields marked debug_redact always are.
	LogRedactFields []string
	// LogSkipProcedures are procedure patterns not logged at all.
	LogSkipProcedures []string
	// LogErrorsOnly logs failed calls only.
	LogErrorsOnly bool
	// LogFailedRowsPerPeer bounds the rows failed calls from one peer can
	// take per minute; past it they are counted in the statistics and
	// metrics but not stored one by one (0: no bound).
	LogFailedRowsPerPeer int
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string

	// PublicProcedures are procedure patterns callable without credentials,
	// beyond those marked (switchboard.v1.access) = ACCESS_PUBLIC.
	PublicProcedures []string
	// ProtectedProcedures are procedure patterns that always need a key; they
	// win over every other rule.
	ProtectedProcedures []string
	// APIKeyHeader is the header that may carry an API key (besides
	// "Authorization: Bearer").
	APIKeyHeader string
	// APIKeyCacheTTL is how long a verified key is trusted without asking
	// the database; a key revoked elsewhere stops working within it.
	APIKeyCacheTTL time.Duration
	// AuthFailureLimit is how many bad credentials one peer may send per
	// AuthFailureWindow; past it each further bad credential is answered
	// RESOURCE_EXHAUSTED until the window ends. Valid keys, anonymous calls
	// and health checks are never refused by it. 0 = off.
	AuthFailureLimit  int
	AuthFailureWindow time.Duration

	// MaxInFlight caps calls running at once over the server (0: no cap);
	// calls over it get RESOURCE_EXHAUSTED.
	MaxInFlight int
	// MaxInFlightPerMethod caps calls running at once per method (0: no cap).
	MaxInFlightPerMethod int
	// MaxStreams caps streaming calls (client, server, bidi) open at once over
	// the server; more are refused with RESOURCE_EXHAUSTED (0: no cap).
	MaxStreams int
	// MaxStreamsPerMethod caps streaming calls open at once per method (0: no
	// cap).
	MaxStreamsPerMethod int
	// MaxAnonymousStreams caps streaming calls open at once by callers without
	// credentials, the ones anyone can open on a public method (0: no cap).
	MaxAnonymousStreams int
	// MaxAnonymousStreamsPerPeer caps the streams one peer opens without
	// credentials, so one client cannot take every anonymous slot (0: no
	// cap). The peer is counted as the auth failure limit counts it.
	MaxAnonymousStreamsPerPeer int
	// LimitWait lets a call over a cap wait this long for a slot (0: refuse
	// at once).
	LimitWait time.Duration
	// DefaultDeadlines gives calls without a client deadline one, as
	// "pattern=duration" items tried in order ("*/ListPets=2s").
	DefaultDeadlines []string

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

	// ErrorInfo decides which errors carry the kit's google.rpc.ErrorInfo
	// (reason, request id): "all" (the default) — every error, a handler's
	// or the transport's *connect.Error included, unless it has an ErrorInfo
	// of its own; "mapped" — only errors the kit maps or authors, while a
	// *connect.Error authored elsewhere is sent exactly as authored (what
	// the Connect conformance suite demands).
	ErrorInfo string

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
}

// EnvPrefix prefixes every environment variable the kit reads.
const EnvPrefix = "SWITCHBOARD_"

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		Addr:                       ":8080",
		DSN:                        "sqlite:data/switchboard.db",
		Reflection:                 false,
		MaxReceiveBytes:            4 << 20,
		Gzip:                       true,
		CompressMinBytes:           1024,
		ReadHeaderTimeout:          10 * time.Second,
		ReadBodyTimeout:            time.Minute,
		IdleTimeout:                2 * time.Minute,
		MaxConcurrentStreams:       250,
		ShutdownDelay:              0,
		ShutdownGrace:              10 * time.Second,
		DBBusyTimeout:              5 * time.Second,
		LogQueueSize:               10000,
		LogBatchSize:               500,
		LogFlushInterval:           200 * time.Millisecond,
		LogRetention:               30 * 24 * time.Hour,
		LogFailedRowsPerPeer:       600,
		LogSpillBytes:              256 << 20,
		TLSClientAuth:              "none",
		APIKeyHeader:               "X-Api-Key",
		APIKeyCacheTTL:             10 * time.Second,
		AuthFailureLimit:           20,
		AuthFailureWindow:          time.Minute,
		MaxStreams:                 1000,
		MaxStreamsPerMethod:        500,
		MaxAnonymousStreams:        200,
		MaxAnonymousStreamsPerPeer: 20,
		CORSMaxAge:                 2 * time.Hour,
		ErrorInfo:                  "all",
		Metrics:                    true,
		Admin:                      true,
		FirstAdminKey:              true,
		LogLevel:                   "info",
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
		{"db-max-open-conns", "database connection pool size (0: dialect default)", (*intValue)(&c.DBMaxOpenConns)},
		{"db-busy-timeout", "how long a SQLite write waits for the write lock", (*durationValue)(&c.DBBusyTimeout)},
		{"log-queue-size", "request-log records queued before new ones are dropped", (*intValue)(&c.LogQueueSize)},
		{"log-batch-size", "request-log rows per insert transaction", (*intValue)(&c.LogBatchSize)},
		{"log-flush-interval", "longest wait before a partial batch is written", (*durationValue)(&c.LogFlushInterval)},
		{"log-retention", "delete request-log rows older than this (0: keep)", (*durationValue)(&c.LogRetention)},
		{"log-spill-dir", "where request-log batches wait while the database is down (empty: derived from the DSN; off: none)", (*stringValue)(&c.LogSpillDir)},
		{"log-spill-bytes", "largest request-log spill on disk, in bytes", (*intValue)(&c.LogSpillBytes)},
		{"log-payload-bytes", "capture request/response JSON up to this size (0: off)", (*intValue)(&c.LogPayloadBytes)},
		{"log-redact-fields", "comma-separated field paths redacted in captured payloads", (*listValue)(&c.LogRedactFields)},
		{"log-skip-procedures", "comma-separated procedure patterns not logged", (*listValue)(&c.LogSkipProcedures)},
		{"log-errors-only", "log failed calls only", (*boolValue)(&c.LogErrorsOnly)},
		{"log-failed-rows-per-peer", "rows failed calls from one peer may take per minute; more are only counted (0: no bound)", (*intValue)(&c.LogFailedRowsPerPeer)},
		{"trusted-proxies", "comma-separated CIDRs whose X-Forwarded-For is believed", (*listValue)(&c.TrustedProxies)},
		{"public-procedures", "comma-separated procedure patterns callable without a key", (*listValue)(&c.PublicProcedures)},
		{"protected-procedures", "comma-separated procedure patterns that always need a key", (*listValue)(&c.ProtectedProcedures)},
		{"api-key-header", "header that may carry an API key", (*stringValue)(&c.APIKeyHeader)},
		{"api-key-cache-ttl", "how long a verified key is trusted without a lookup", (*durationValue)(&c.APIKeyCacheTTL)},
		{"auth-failure-limit", "bad credentials per peer per window before further bad ones are refused (0: off)", (*intValue)(&c.AuthFailureLimit)},
		{"auth-failure-window", "window of the auth failure limit", (*durationValue)(&c.AuthFailureWindow)},
		{"max-in-flight", "calls running at once over the server (0: no cap)", (*intValue)(&c.MaxInFlight)},
		{"max-in-flight-per-method", "calls running at once per method (0: no cap)", (*intValue)(&c.MaxInFlightPerMethod)},
		{"max-streams", "streaming calls open at once over the server (0: no cap)", (*intValue)(&c.MaxStreams)},
		{"max-streams-per-method", "streaming calls open at once per method (0: no cap)", (*intValue)(&c.MaxStreamsPerMethod)},
		{"max-anonymous-streams", "streaming calls open at once without credentials (0: no cap)", (*intValue)(&c.MaxAnonymousStreams)},
		{"max-anonymous-streams-per-peer", "streaming calls one peer may have open without credentials (0: no cap)", (*intValue)(&c.MaxAnonymousStreamsPerPeer)},
		{"limit-wait", "how long a call over a cap waits for a slot (0: refuse at once)", (*durationValue)(&c.LimitWait)},
		{"default-deadlines", "comma-separated pattern=duration deadlines for calls without one", (*listValue)(&c.DefaultDeadlines)},
		{"cors-allowed-origins", "comma-separated origins browsers may call from (empty: CORS off)", (*listValue)(&c.CORSAllowedOrigins)},
		{"cors-allow-credentials", "allow credentialed cross-origin calls", (*boolValue)(&c.CORSAllowCredentials)},
		{"cors-max-age", "how long browsers cache a preflight answer", (*durationValue)(&c.CORSMaxAge)},
		{"error-info", "which errors carry the kit's ErrorInfo: all, or mapped (connect errors authored elsewhere go as authored)", (*stringValue)(&c.ErrorInfo)},
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
	case c.DBBusyTimeout < 0:
		return fmt.Errorf("kit: db-busy-timeout must not be negative")
	case c.ReadBodyTimeout < 0:
		return fmt.Errorf("kit: read-body-timeout must not be negative")
	case c.ShutdownDelay < 0, c.ShutdownGrace < 0:
		return fmt.Errorf("kit: shutdown-delay and shutdown-grace must not be negative")
	case c.LogSpillBytes <= 0:
		return fmt.Errorf("kit: log-spill-bytes must be positive")
	case c.LogFailedRowsPerPeer < 0:
		return fmt.Errorf("kit: log-failed-rows-per-peer must not be negative")
	case c.LogQueueSize <= 0, c.LogBatchSize <= 0, c.LogFlushInterval <= 0:
		return fmt.Errorf("kit: log-queue-size, log-batch-size and log-flush-interval must be positive")
	case c.logLevel() == nil:
		return fmt.Errorf("kit: log-level %q: want debug, info, warn or error", c.LogLevel)
	case c.ErrorInfo != "all" && c.ErrorInfo != "mapped":
		return fmt.Errorf("kit: error-info %q: want all or mapped", c.ErrorInfo)
	case c.APIKeyHeader == "":
		return fmt.Errorf("kit: api-key-header is empty")
	}
	if _, err := c.trustedProxies(); err != nil {
		return err
	}
	if _, err := interceptors.ParseIdentityScopes(c.TLSClientScopes); err != nil {
		return fmt.Errorf("kit: tls-client-scopes: %w", err)
	}
	if _, err := interceptors.ParseDeadlines(c.DefaultDeadlines); err != nil {
		return fmt.Errorf("kit: default-deadlines: %w", err)
	}
	for _, o := range c.CORSAllowedOrigins {
		if strings.Count(o, "*") > 1 || (o == "*" && c.CORSAllowCredentials) {
			return fmt.Errorf("kit: cors-allowed-origins: %q: one wildcard at most, and \"*\" cannot allow credentials", o)
		}
	}
	if c.MaxInFlight < 0 || c.MaxInFlightPerMethod < 0 || c.LimitWait < 0 {
		return fmt.Errorf("kit: max-in-flight, max-in-flight-per-method and limit-wait must not be negative")
	}
	if c.MaxStreams < 0 || c.MaxStreamsPerMethod < 0 || c.MaxAnonymousStreams < 0 || c.MaxAnonymousStreamsPerPeer < 0 {
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

// trustedProxies parses TrustedProxies.
func (c *Config) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("kit: trusted-proxies: %q is not a CIDR", s)
		}
		out = append(out, p)
	}
	return out, nil
}

type listValue []string

func (v *listValue) String() string { return strings.Join(*v, ",") }
func (v *listValue) Set(s string) error {
	*v = nil
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*v = append(*v, part)
		}
	}
	return nil
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

// Logger returns a text logger on w at LogLevel (info if it is not valid):
// what a main hands to WithLogger.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if l := c.logLevel(); l != nil {
		level = *l
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
