package kit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/switchboardkit/switchboard/cluster"
	"github.com/switchboardkit/switchboard/events"
	"github.com/switchboardkit/switchboard/health"
	"github.com/switchboardkit/switchboard/store"
)

// heartbeat writes this instance's row now, and returns the loop that keeps
// it current until ctx ends (the admin API lists instances from it).
func (s *Server) heartbeat(ctx context.Context) func() {
	host, _ := os.Hostname()
	version := "devel"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		version = info.Main.Version
	}
	inst := &store.Instance{
		ID: s.instance, Host: host, Address: s.addr.String(), Version: version,
		StartedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
	beat := func() {
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		inst.LastSeenAt, inst.InFlight = time.Now().UTC().Truncate(time.Microsecond), s.limits.InFlight()
		err := store.Beat(bctx, s.db, inst)
		s.dbHealth.ObserveWrite(1, 0, err)
		if err != nil {
			s.log.Warn("instance heartbeat failed", "error", err)
		}
	}
	beat()
	return func() {
		t := time.NewTicker(store.HeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				beat()
			case <-ctx.Done():
				return
			}
		}
	}
}

// firstAdminKey makes the first admin key when the database holds no key at
// all, and prints it once — to the first-key writer (stderr), never to the
// structured log — as Grafana or Jenkins do for their first admin: a fresh
// server is then usable without reading docs, and a server that already has
// keys prints nothing. Config.FirstAdminKey turns it off, and so does an
// authenticator that replaces API keys.
func (s *Server) firstAdminKey(ctx context.Context) {
	if !s.cfg.FirstAdminKey || s.cfg.Authenticator != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	secret, key, err := s.keys.CreateFirst(ctx, "first-admin", []string{"admin", "*"})
	if err != nil {
		s.log.Warn("could not make the first admin key", "error", err)
		return
	}
	if key == nil {
		return
	}
	s.log.Info("made the first admin key (printed once on stderr)", "key_id", key.ID)
	fmt.Fprintf(s.firstKeyOut, `
  The database has no API keys yet, so this server made the first admin key
  (scopes "admin" and "*"). It is shown this once and never again; store it now:

      %s

  Sign in at %s/admin/ or send it as "Authorization: Bearer <key>".
  Make narrower keys with it (admin page, or switchboard keys create), and
  turn this off in production with -first-admin-key=false.

`, secret, s.baseURL())
}

// baseURL is how a person on this machine reaches the server.
func (s *Server) baseURL() string {
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(s.addr.String())
	if err != nil {
		return scheme + "://" + s.addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// dbHealth follows whether the database accepts writes, from the writes the
// kit makes anyway — request-log batches (every few hundred milliseconds
// under traffic) and the instance heartbeat (every 10 s) — and keeps the
// server's health status in step: NOT_SERVING while writes fail because the
// database is unavailable (unreachable, locked, full), SERVING again at the
// first write that succeeds. Reads may still work meanwhile; a load
// balancer that routes on health sends writes elsewhere.
type dbHealth struct {
	log      *slog.Logger
	health   *health.Server
	mu       sync.Mutex
	failing  bool
	putDown  bool // this set NOT_SERVING, and will set SERVING again
	since    time.Time
	stopping bool
}

// ObserveWrite records one write's outcome (dbHealth is a
// store.WriteObserver). Only a write that succeeds restores SERVING — an
// error of another kind says nothing about whether the database can write —
// and only a NOT_SERVING this set.
func (d *dbHealth) ObserveWrite(_ int, _ time.Duration, err error) {
	if err != nil && !store.IsUnavailable(err) {
		return
	}
	down := err != nil
	d.mu.Lock()
	defer d.mu.Unlock()
	if down == d.failing || d.stopping {
		return
	}
	d.failing = down
	if down {
		d.since = time.Now()
		d.log.Error("database cannot write; health is NOT_SERVING until it can", "error", err)
		// Only a SERVING server is put down, and only that is restored:
		// a NOT_SERVING the application set stays its own.
		if status, _ := d.health.Get(""); status == health.Serving {
			d.putDown = true
			d.health.Set("", health.NotServing)
		}
		return
	}
	d.log.Info("database writes again; health is SERVING", "after", time.Since(d.since).Round(time.Millisecond))
	if d.putDown {
		d.putDown = false
		d.health.Set("", health.Serving)
	}
}

// stop freezes the status: shutdown owns it from now on.
func (d *dbHealth) stop() {
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
}

// writable reports whether the last write succeeded.
func (d *dbHealth) writable() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.failing
}

// newInstanceID names this process among the replicas.
func newInstanceID() string {
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return hex.EncodeToString(id)
}

// openCluster makes the cluster bus: LISTEN/NOTIFY on PostgreSQL (Run
// listens), in-process on SQLite, where one process owns the database.
func (s *Server) openCluster() error {
	dialect, source, err := store.ParseDSN(s.cfg.DSN)
	if err != nil {
		return err
	}
	if dialect != store.Postgres {
		s.cluster = cluster.NewLocal(s.instance)
		return nil
	}
	s.cluster = cluster.NewPostgres(cluster.PostgresConfig{DSN: source, DB: s.db, Origin: s.instance, Logger: s.log})
	return nil
}

// instancesTopic carries replicas' up and down announcements.
const instancesTopic = "switchboard.instances"

// instanceNews is one announcement on instancesTopic.
type instanceNews struct {
	ID    string `json:"id"`
	State string `json:"state"` // "up" or "down"
}

// relayInstances turns the fleet's announcements into events on this
// replica's event bus.
func (s *Server) relayInstances() func() {
	return s.cluster.Subscribe(instancesTopic, cluster.Handler{Message: func(m cluster.Message) {
		var news instanceNews
		if json.Unmarshal(m.Payload, &news) != nil {
			return
		}
		kind := events.InstanceUp
		if news.State == "down" {
			kind = events.InstanceDown
		}
		s.events.Publish(events.Event{Kind: kind, Instance: news.ID})
	}})
}

// announce tells the fleet this replica is up or going down; going down,
// it also marks its instance row stopped, so the admin API shows it down
// at once rather than after its heartbeats stop.
func (s *Server) announce(state string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if state == "down" {
		if err := store.StopInstance(ctx, s.db, s.instance, time.Now()); err != nil {
			s.log.Warn("could not mark this instance stopped", "error", err)
		}
	}
	payload, _ := json.Marshal(instanceNews{ID: s.instance, State: state})
	if err := s.cluster.Publish(ctx, instancesTopic, payload); err != nil {
		s.log.Warn("could not announce this instance", "state", state, "error", err)
	}
}
