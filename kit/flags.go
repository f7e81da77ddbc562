package kit

// Every knob of Config as one flag and one environment variable, from one
// table: the flag name is the single source ("max-receive-bytes" is read
// from SWITCHBOARD_MAX_RECEIVE_BYTES), and docs/configuration.md is checked
// against it.

import (
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardkit/switchboard/interceptors/limit"
)

// EnvPrefix prefixes every environment variable the kit reads.
const EnvPrefix = "SWITCHBOARD_"

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
		{"rest", "serve the REST routes of methods with google.api.http options", (*boolValue)(&c.REST)},
		{"api-docs", "serve the OpenAPI document and the /docs/ page, when the service has one", (*boolValue)(&c.APIDocs)},
		{"max-receive-bytes", "largest message received, in bytes (0: no limit)", (*intValue)(&c.MaxReceiveBytes)},
		{"max-send-bytes", "largest message sent, in bytes (0: no limit)", (*intValue)(&c.MaxSendBytes)},
		{"gzip", "compress responses for clients that accept gzip", (*boolValue)(&c.Gzip)},
		{"compress-min-bytes", "smallest response message that is compressed", (*intValue)(&c.CompressMinBytes)},
		{"read-header-timeout", "time allowed to read request headers", (*durationValue)(&c.ReadHeaderTimeout)},
		{"read-body-timeout", "time allowed to send a request body, until read or, for client streams, admitted (0: no bound)", (*durationValue)(&c.ReadBodyTimeout)},
		{"idle-timeout", "close keep-alive connections idle this long", (*durationValue)(&c.IdleTimeout)},
		{"max-concurrent-streams", "concurrent HTTP/2 streams per connection", (*intValue)(&c.MaxConcurrentStreams)},
		{"read-buffer-bytes", "read buffer of each connection, in bytes (0: none)", (*intValue)(&c.ReadBufferBytes)},
		{"coalesce-writes", "send what HTTP/2 writes at one moment (a response's frames) in one system call", (*boolValue)(&c.CoalesceWrites)},
		{"shutdown-delay", "report NOT_SERVING this long before refusing calls", (*durationValue)(&c.ShutdownDelay)},
		{"shutdown-grace", "time in-flight calls get to finish on shutdown", (*durationValue)(&c.ShutdownGrace)},
		{"db-max-open-conns", "database connection pool size (0: dialect default)", (*intValue)(&c.DB.MaxOpenConns)},
		{"db-busy-timeout", "how long a SQLite write waits for the write lock", (*durationValue)(&c.DB.BusyTimeout)},
		{"log-queue-size", "request-log records queued before new ones are dropped", (*intValue)(&c.LogWriter.QueueSize)},
		{"log-batch-size", "request-log rows per insert transaction", (*intValue)(&c.LogWriter.BatchSize)},
		{"log-flush-interval", "longest wait before a partial batch is written", (*durationValue)(&c.LogWriter.FlushInterval)},
		{"log-retention", "delete request-log rows older than this (0: keep)", (*durationValue)(&c.LogWriter.Retention)},
		{"log-spill-dir", "where request-log batches wait while the database is down (empty: derived from the DSN; off: none)", (*stringValue)(&c.LogSpillDir)},
		{"log-spill-bytes", "largest request-log spill on disk, in bytes", (*int64Value)(&c.LogWriter.SpillMaxBytes)},
		{"log-payload-bytes", "capture request/response JSON up to this size (0: off)", (*intValue)(&c.RequestLog.PayloadBytes)},
		{"log-redact-fields", "comma-separated field paths redacted in captured payloads", (*listValue)(&c.RequestLog.RedactFields)},
		{"log-skip-procedures", "comma-separated procedure patterns not logged", (*listValue)(&c.LogSkipProcedures)},
		{"log-errors-only", "log failed calls only", (*boolValue)(&c.RequestLog.ErrorsOnly)},
		{"log-lines", "which calls get a line in the server log: all, errors, off, or a share of successful ones (0.01)", (*stringValue)(&c.RequestLog.Lines)},
		{"log-store", "what the request log keeps in the database: rows, stats (statistics only) or off", (*stringValue)(&c.LogStore)},
		{"log-failed-rows-per-peer", "rows failed calls from one peer may take per minute; more are only counted (0: no bound)", (*intValue)(&c.RequestLog.FailedRowsPerPeer)},
		{"trusted-proxies", "comma-separated CIDRs whose X-Forwarded-For is believed", (*prefixListValue)(&c.TrustedProxies)},
		{"public-procedures", "comma-separated procedure patterns callable without a key", (*listValue)(&c.Auth.Public)},
		{"protected-procedures", "comma-separated procedure patterns that always need a key", (*listValue)(&c.Auth.Protected)},
		{"api-key-header", "header that may carry an API key besides Authorization: Bearer (empty: Bearer only)", (*stringValue)(&c.APIKeys.Header)},
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
