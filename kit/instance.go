package kit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"runtime/debug"
	"time"

	"github.com/switchboardkit/switchboard/store"
)

// heartbeatEvery is how often an instance records that it is alive; one not
// seen for three beats is shown as down, one not seen for a day is removed.
const heartbeatEvery = 10 * time.Second

// heartbeat keeps this instance's row current until ctx ends.
func (s *Server) heartbeat(ctx context.Context) {
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	host, _ := os.Hostname()
	version := "devel"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		version = info.Main.Version
	}
	inst := &store.Instance{
		ID: hex.EncodeToString(id), Host: host, Address: s.addr.String(), Version: version,
		StartedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
	beat := func() {
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		running, _ := s.InFlight()
		inst.LastSeenAt, inst.InFlight = time.Now().UTC().Truncate(time.Microsecond), running
		_, err := s.db.NewInsert().Model(inst).
			On("CONFLICT (id) DO UPDATE").
			Set("last_seen_at = EXCLUDED.last_seen_at").
			Set("in_flight = EXCLUDED.in_flight").
			Exec(bctx)
		s.dbHealth.observe(err)
		if err != nil {
			s.log.Warn("instance heartbeat failed", "error", err)
			return
		}
		_, _ = s.db.NewDelete().Model((*store.Instance)(nil)).
			Where("last_seen_at < ?", time.Now().Add(-24*time.Hour).UTC()).Exec(bctx)
	}
	beat()
	t := time.NewTicker(heartbeatEvery)
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
