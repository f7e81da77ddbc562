package kit

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/switchboardkit/switchboard/store"
)

// firstAdminKey makes the first admin key when the database holds no key at
// all, and prints it once — to the first-key writer (stderr), never to the
// structured log — as Grafana or Jenkins do for their first admin: a fresh
// server is then usable without reading docs, and a server that already has
// keys prints nothing. Config.FirstAdminKey turns it off.
func (s *Server) firstAdminKey(ctx context.Context) {
	if !s.cfg.FirstAdminKey || s.apiKeys == nil || s.firstKeyOut == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	secret, key, err := store.CreateFirstAPIKey(ctx, s.db, "first-admin", []string{"admin", "*"})
	if err != nil {
		s.log.Warn("could not make the first admin key", "error", err)
		return
	}
	if key == nil {
		return
	}
	s.events.publish(Event{Kind: EventKeyCreated, At: time.Now(), KeyID: key.ID})
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
