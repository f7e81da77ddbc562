package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
	"github.com/uptrace/bun"

	"github.com/switchboardkit/switchboard/store"
)

// Channel is the one NOTIFY channel the bus uses.
const Channel = "switchboard_cluster"

// maxInline is the largest envelope sent in the notification itself:
// NOTIFY takes at most 8000 bytes.
const maxInline = 7900

// envelope is a message on the wire: the payload inline, or a reference to
// the row that holds it.
type envelope struct {
	Topic   string `json:"t"`
	Origin  string `json:"o"`
	Seq     uint64 `json:"s"`
	Payload []byte `json:"p,omitempty"`
	Ref     int64  `json:"r,omitempty"`
}

// PostgresConfig configures NewPostgres.
type PostgresConfig struct {
	// DSN is the database's postgres:// URL, for the listener's own
	// connection.
	DSN string
	// DB publishes (and stores large payloads); it is the server's pool.
	DB *bun.DB
	// Origin names this replica in every message it publishes.
	Origin string
	// Logger reports connection failures; nil is slog.Default().
	Logger *slog.Logger
	// MaxBackoff caps the wait between reconnection attempts, which doubles
	// from 50 ms; 0 is 5 s.
	MaxBackoff time.Duration
}

// Postgres is the Bus on PostgreSQL LISTEN/NOTIFY. Run listens until its
// context ends.
type Postgres struct {
	cfg  PostgresConfig
	subs subscribers

	pubSem chan struct{}     // one publish at a time (a replica's messages stay in order); waits respect ctx
	seq    map[string]uint64 // topic → the last sequence number published

	recvMu      sync.Mutex        // the delivery goroutine's state
	last        map[string]uint64 // origin + topic → the last sequence number received
	connected   atomic.Int64      // connections made; > 1 means reconnected
	failures    int               // consecutive failed (or at once lost) connections
	lastConnect time.Time
	listening   chan struct{} // closed once the listener first listens
	once        sync.Once
	serving     atomic.Bool // the server serves: a first listen after this is a gap too
}

// publishTimeout bounds a publish whose context has no deadline of its own.
const publishTimeout = 5 * time.Second

// NewPostgres returns the bus; call Run to listen.
func NewPostgres(cfg PostgresConfig) *Postgres {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	return &Postgres{
		cfg: cfg, pubSem: make(chan struct{}, 1), seq: map[string]uint64{},
		last: map[string]uint64{}, listening: make(chan struct{}),
	}
}

// MarkServing tells the bus its server serves: should the listener connect
// for the first time only after this, what was published meanwhile was
// missed, and subscribers get a gap.
func (p *Postgres) MarkServing() { p.serving.Store(true) }

// Listening is closed once Run's listener first listens: messages published
// before then reach no replica's subscribers, not even this one's, so a
// server serves only once its bus listens.
func (p *Postgres) Listening() <-chan struct{} { return p.listening }

// Origin implements Bus.
func (p *Postgres) Origin() string { return p.cfg.Origin }

// Subscribe implements Bus.
func (p *Postgres) Subscribe(topic string, h Handler) func() { return p.subs.add(topic, h) }

// Publish implements Bus: one NOTIFY, after storing the payload when it is
// too large to travel in it. Publishes of one replica are serialized, so
// they are delivered in order; each topic is numbered on its own, so a
// message lost on one topic is a gap for that topic only. A publish that
// fails takes its number back: nobody is told of a gap for a message the
// publisher knows it did not send. Without a deadline of its own, ctx gets
// one of 5 s.
func (p *Postgres) Publish(ctx context.Context, topic string, payload []byte) (err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishTimeout)
		defer cancel()
	}
	select {
	case p.pubSem <- struct{}{}:
		defer func() { <-p.pubSem }()
	case <-ctx.Done():
		return fmt.Errorf("cluster: publish: %w", ctx.Err())
	}
	p.seq[topic]++
	defer func() {
		if err != nil {
			p.seq[topic]--
		}
	}()
	env := envelope{Topic: topic, Origin: p.cfg.Origin, Seq: p.seq[topic], Payload: payload}
	raw, err := json.Marshal(env)
	if err != nil {
		return err
	}
	if len(raw) > maxInline {
		ref, err := store.PutClusterPayload(ctx, p.cfg.DB, payload)
		if err != nil {
			return fmt.Errorf("cluster: store a large payload: %w", err)
		}
		env.Payload, env.Ref = nil, ref
		if raw, err = json.Marshal(env); err != nil {
			return err
		}
	}
	if _, err := p.cfg.DB.ExecContext(ctx, "SELECT pg_notify(?, ?)", Channel, string(raw)); err != nil {
		return fmt.Errorf("cluster: publish: %w", err)
	}
	return nil
}

// Run listens on the bus's own connection until ctx ends, reconnecting
// after failures with a doubling backoff (50 ms up to MaxBackoff). After a
// reconnection every subscriber gets a Gap: notifications sent while the
// listener was away are gone.
func (p *Postgres) Run(ctx context.Context) error {
	l := &pgxlisten.Listener{
		Connect:        p.connect,
		LogError:       func(_ context.Context, err error) { p.cfg.Logger.Warn("cluster bus: listener", "error", err) },
		ReconnectDelay: -1, // connect waits with its own backoff
	}
	l.Handle(Channel, p)
	go p.prune(ctx)
	err := l.Listen(ctx)
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return nil
	}
	return err
}

// prune removes stored payloads an hour old, hourly, until ctx ends.
func (p *Postgres) prune(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := store.PruneClusterPayloads(ctx, p.cfg.DB, time.Now().Add(-time.Hour)); err != nil {
				p.cfg.Logger.Warn("cluster bus: prune stored payloads", "error", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// connect dials the listener's connection, waiting before every attempt
// after a failure.
func (p *Postgres) connect(ctx context.Context) (*pgx.Conn, error) {
	if p.failures > 0 {
		wait := min(p.cfg.MaxBackoff, 50*time.Millisecond<<min(p.failures-1, 16))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	cfg, err := pgx.ParseConfig(p.cfg.DSN)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = ApplicationName(p.cfg.Origin)
	// A listener only reads: notice a dead connection from TCP keepalives
	// within about 30 s, not the system's two hours.
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}}
	cfg.DialFunc = dialer.DialContext
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		p.failures++
		return nil, err
	}
	// A connection lost within seconds of the last one (a proxy or server
	// that accepts, then drops) counts as a failure: the backoff applies.
	if time.Since(p.lastConnect) < 5*time.Second {
		p.failures++
	} else {
		p.failures = 0
	}
	p.lastConnect = time.Now()
	return conn, nil
}

// HandleBacklog runs each time the listener has (re)connected and listens:
// after the first time, messages may have been missed.
func (p *Postgres) HandleBacklog(context.Context, string, *pgx.Conn) error {
	p.once.Do(func() { close(p.listening) })
	if p.connected.Add(1) > 1 || p.serving.Load() {
		p.cfg.Logger.Info("cluster bus: listening again; subscribers resync")
		p.recvMu.Lock()
		clear(p.last) // sequences restart from whatever arrives next
		p.recvMu.Unlock()
		p.subs.gap("reconnected")
	}
	return nil
}

// HandleNotification delivers one message, fetching a stored payload on
// the listener's connection, and reports a gap when the publisher's
// sequence jumped.
func (p *Postgres) HandleNotification(ctx context.Context, n *pgconn.Notification, conn *pgx.Conn) error {
	var env envelope
	if err := json.Unmarshal([]byte(n.Payload), &env); err != nil {
		return fmt.Errorf("cluster: a notification that is not an envelope: %w", err)
	}
	if env.Ref != 0 {
		if err := conn.QueryRow(ctx, store.ClusterPayloadQuery, env.Ref).Scan(&env.Payload); err != nil {
			p.subs.gapOn(env.Topic, "payload")
			return fmt.Errorf("cluster: payload %d: %w", env.Ref, err)
		}
	}
	key := env.Origin + "\x00" + env.Topic
	p.recvMu.Lock()
	last, known := p.last[key]
	p.last[key] = env.Seq
	p.recvMu.Unlock()
	if known && env.Seq != last+1 {
		p.subs.gapOn(env.Topic, "sequence")
	}
	p.subs.deliver(Message{Topic: env.Topic, Payload: env.Payload, Origin: env.Origin, Seq: env.Seq})
	return nil
}

// ApplicationName is what the listener's connection of the replica named
// origin shows in pg_stat_activity.
func ApplicationName(origin string) string { return "switchboard cluster " + origin }

// Connected reports how many times the listener has connected (tests and
// health: 0 means it never did).
func (p *Postgres) Connected() int64 { return p.connected.Load() }
