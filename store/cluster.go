package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// ClusterPayload holds a cluster-bus message too large for a NOTIFY; the
// notification carries its id. Rows are removed after an hour
// (PruneClusterPayloads), long after every listener has read them.
type ClusterPayload struct {
	bun.BaseModel `bun:"table:switchboard_cluster_payloads"`
	ID            int64     `bun:"id,pk,autoincrement"`
	Payload       []byte    `bun:"payload,notnull"`
	CreatedAt     time.Time `bun:"created_at,notnull"`
}

// ClusterPayloadQuery reads one payload by id ($1), for a listener that
// holds a pgx connection of its own rather than a bun handle.
const ClusterPayloadQuery = "SELECT payload FROM switchboard_cluster_payloads WHERE id = $1"

// PutClusterPayload stores a payload and returns its id.
func PutClusterPayload(ctx context.Context, db bun.IDB, payload []byte) (int64, error) {
	row := &ClusterPayload{Payload: payload, CreatedAt: time.Now().UTC()}
	_, err := db.NewInsert().Model(row).Returning("id").Exec(ctx)
	return row.ID, err
}

// PruneClusterPayloads removes payloads stored before cutoff.
func PruneClusterPayloads(ctx context.Context, db bun.IDB, cutoff time.Time) error {
	_, err := db.NewDelete().Model((*ClusterPayload)(nil)).Where("created_at < ?", cutoff.UTC()).Exec(ctx)
	return err
}
