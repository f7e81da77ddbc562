package store

import (
	"time"

	"github.com/uptrace/bun"
)

// RequestLog is one finished call, written by the request log interceptor
// through a LogWriter.
type RequestLog struct {
	bun.BaseModel `bun:"table:switchboard_request_logs"`

	ID               int64     `bun:"id,pk,autoincrement"`
	RequestID        string    `bun:"request_id,notnull"`
	Procedure        string    `bun:"procedure,notnull"`
	Service          string    `bun:"service,notnull"`
	Method           string    `bun:"method,notnull"`
	StreamType       string    `bun:"stream_type,notnull"` // unary, client, server, bidi
	Protocol         string    `bun:"protocol,notnull"`    // connect, grpc, grpcweb
	HTTPVersion      string    `bun:"http_version,notnull"`
	Code             string    `bun:"code,notnull"` // "ok" or a Connect code name
	ErrorMessage     string    `bun:"error_message,notnull"`
	ErrorReason      string    `bun:"error_reason,notnull"`
	ErrorDetails     string    `bun:"error_details,notnull"` // JSON array of the decoded details
	StartTime        time.Time `bun:"start_time,notnull"`
	DurationMicros   int64     `bun:"duration_us,notnull"`
	PeerIP           string    `bun:"peer_ip,notnull"`
	UserAgent        string    `bun:"user_agent,notnull"`
	KeyID            string    `bun:"key_id,notnull"`
	KeyName          string    `bun:"key_name,notnull"`
	RequestBytes     int64     `bun:"request_bytes,notnull"`
	ResponseBytes    int64     `bun:"response_bytes,notnull"`
	MessagesReceived int64     `bun:"messages_received,notnull"`
	MessagesSent     int64     `bun:"messages_sent,notnull"`
	RequestPayload   string    `bun:"request_payload,notnull"`
	ResponsePayload  string    `bun:"response_payload,notnull"`
	HTTPMethod       string    `bun:"http_method,notnull"` // of a REST call: the client's GET, POST…; else ""
	HTTPRoute        string    `bun:"http_route,notnull"`  // of a REST call: the route's template, /v1/pets/{id}; else ""
}

// APIKey is a stored API key. The secret itself is never stored: only its
// SHA-256, compared in constant time.
type APIKey struct {
	bun.BaseModel `bun:"table:switchboard_api_keys"`

	// ID is the key's public prefix: the part of "sb_<id>_<secret>" that
	// may be shown, logged and used to look the key up.
	ID         string    `bun:"id,pk"`
	Name       string    `bun:"name,notnull"`
	SecretHash []byte    `bun:"secret_hash,notnull"`
	Scopes     []string  `bun:"scopes,type:text,notnull"` // JSON array
	CreatedAt  time.Time `bun:"created_at,notnull"`
	ExpiresAt  time.Time `bun:"expires_at,nullzero"`
	RevokedAt  time.Time `bun:"revoked_at,nullzero"`
	LastUsedAt time.Time `bun:"last_used_at,nullzero"`
}

// Instance is one running server, kept current by its heartbeat, so replicas
// sharing one database can see each other.
type Instance struct {
	bun.BaseModel `bun:"table:switchboard_instances"`

	ID         string    `bun:"id,pk"`
	Host       string    `bun:"host,notnull"`
	Address    string    `bun:"address,notnull"`
	Version    string    `bun:"version,notnull"`
	StartedAt  time.Time `bun:"started_at,notnull"`
	LastSeenAt time.Time `bun:"last_seen_at,notnull"`
	InFlight   int64     `bun:"in_flight,notnull"`
	// StoppedAt is set when the instance shut down gracefully.
	StoppedAt time.Time `bun:"stopped_at,nullzero"`
}

// LogBatch records that one request-log batch was stored, in the same
// transaction as its rows: a batch written again — retried after a commit
// whose answer was lost, or replayed from the spill — is recognized and
// skipped, so no row or statistic is counted twice. Rows older than a day
// are pruned.
type LogBatch struct {
	bun.BaseModel `bun:"table:switchboard_log_batches"`

	ID        string    `bun:"id,pk"`
	WrittenAt time.Time `bun:"written_at,notnull"`
}
