package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// HeartbeatEvery is how often a server records that it is alive; an
// instance not seen for three beats is shown as down, one not seen for a
// day is removed.
const HeartbeatEvery = 10 * time.Second

// Beat records that inst is alive now (its LastSeenAt and InFlight), and
// removes instances not seen for a day.
func Beat(ctx context.Context, db bun.IDB, inst *Instance) error {
	_, err := db.NewInsert().Model(inst).
		On("CONFLICT (id) DO UPDATE").
		Set("last_seen_at = EXCLUDED.last_seen_at").
		Set("in_flight = EXCLUDED.in_flight").
		Exec(ctx)
	if err != nil {
		return err
	}
	_, err = db.NewDelete().Model((*Instance)(nil)).
		Where("last_seen_at < ?", time.Now().Add(-24*time.Hour).UTC()).Exec(ctx)
	return err
}

// ListInstances returns the instances seen in the last day, newest first.
func ListInstances(ctx context.Context, db bun.IDB) ([]*Instance, error) {
	var rows []*Instance
	err := db.NewSelect().Model(&rows).OrderExpr("started_at DESC").Scan(ctx)
	return rows, err
}

// Up reports whether the instance runs: it has not shut down, and was seen
// within three heartbeats of now (one killed outright is down after that).
func (i *Instance) Up(now time.Time) bool {
	return i.StoppedAt.IsZero() && now.Sub(i.LastSeenAt) < 3*HeartbeatEvery
}

// StopInstance records that the instance id shut down at at.
func StopInstance(ctx context.Context, db bun.IDB, id string, at time.Time) error {
	_, err := db.NewUpdate().Model((*Instance)(nil)).Set("stopped_at = ?", at.UTC()).Where("id = ?", id).Exec(ctx)
	return err
}
