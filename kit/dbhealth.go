package kit

import (
	"sync"
	"time"

	"github.com/switchboardkit/switchboard/store"
)

// dbHealth follows whether the database accepts writes, from the writes the
// kit makes anyway — request-log batches (every few hundred milliseconds
// under traffic) and the instance heartbeat (every 10 s) — and keeps the
// server's health status in step: NOT_SERVING while writes fail because the
// database is unavailable (unreachable, locked, full), SERVING again at the
// first write that succeeds. Reads may still work meanwhile; a load
// balancer that routes on health sends writes elsewhere.
type dbHealth struct {
	s        *Server
	mu       sync.Mutex
	failing  bool
	putDown  bool // this set NOT_SERVING, and will set SERVING again
	since    time.Time
	stopping bool
}

// observe records one write's outcome. Only a write that succeeds
// restores SERVING — an error of another kind says nothing about whether
// the database can write — and only a NOT_SERVING this set.
func (d *dbHealth) observe(err error) {
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
		d.s.log.Error("database cannot write; health is NOT_SERVING until it can", "error", err)
		// Only a SERVING server is put down, and only that is restored:
		// a NOT_SERVING the application set stays its own.
		if status, _ := d.s.health.get(""); status == HealthServing {
			d.putDown = true
			d.s.health.set("", HealthNotServing)
		}
		return
	}
	d.s.log.Info("database writes again; health is SERVING", "after", time.Since(d.since).Round(time.Millisecond))
	if d.putDown {
		d.putDown = false
		d.s.health.set("", HealthServing)
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
