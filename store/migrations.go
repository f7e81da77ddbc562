package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// KitMigrations is the kit's own schema (request logs, API keys), applied by
// kit.New and by the switchboard CLI under the "switchboard" set. Each step
// describes its tables as they were at that step.
func KitMigrations() *migrate.Migrations {
	m := migrate.NewMigrations()
	m.Add(migrate.Migration{
		Name: "20261125100001", Comment: "request_logs_and_api_keys",
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			return mg.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				type requestLog struct {
					bun.BaseModel    `bun:"table:switchboard_request_logs"`
					ID               int64     `bun:"id,pk,autoincrement"`
					RequestID        string    `bun:"request_id,notnull"`
					Procedure        string    `bun:"procedure,notnull"`
					Service          string    `bun:"service,notnull"`
					Method           string    `bun:"method,notnull"`
					StreamType       string    `bun:"stream_type,notnull"`
					Protocol         string    `bun:"protocol,notnull"`
					HTTPVersion      string    `bun:"http_version,notnull"`
					Code             string    `bun:"code,notnull"`
					ErrorMessage     string    `bun:"error_message,notnull"`
					ErrorReason      string    `bun:"error_reason,notnull"`
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
				}
				type apiKey struct {
					bun.BaseModel `bun:"table:switchboard_api_keys"`
					ID            string    `bun:"id,pk"`
					Name          string    `bun:"name,notnull"`
					SecretHash    []byte    `bun:"secret_hash,notnull"`
					Scopes        []string  `bun:"scopes,type:text,notnull"`
					CreatedAt     time.Time `bun:"created_at,notnull"`
					ExpiresAt     time.Time `bun:"expires_at,nullzero"`
					RevokedAt     time.Time `bun:"revoked_at,nullzero"`
					LastUsedAt    time.Time `bun:"last_used_at,nullzero"`
				}
				if _, err := tx.NewCreateTable().Model((*requestLog)(nil)).Exec(ctx); err != nil {
					return err
				}
				for name, cols := range map[string][]string{
					"switchboard_request_logs_start_time_idx": {"start_time"},
					"switchboard_request_logs_procedure_idx":  {"procedure", "start_time"},
					"switchboard_request_logs_request_id_idx": {"request_id"},
				} {
					if _, err := tx.NewCreateIndex().Model((*requestLog)(nil)).Index(name).Column(cols...).Exec(ctx); err != nil {
						return err
					}
				}
				_, err := tx.NewCreateTable().Model((*apiKey)(nil)).Exec(ctx)
				return err
			})
		},
	})
	m.Add(migrate.Migration{
		Name: "20261125100002", Comment: "rollups",
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			return mg.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				type rollup struct {
					bun.BaseModel `bun:"table:switchboard_rollups"`
					Minute        time.Time `bun:"minute,pk"`
					Procedure     string    `bun:"procedure,pk"`
					Code          string    `bun:"code,pk"`
					Count         int64     `bun:"count,notnull"`
					LatencySumUS  int64     `bun:"latency_sum_us,notnull"`
					RequestBytes  int64     `bun:"request_bytes,notnull"`
					ResponseBytes int64     `bun:"response_bytes,notnull"`
					Buckets       []int64   `bun:"buckets,type:text,notnull"`
				}
				_, err := tx.NewCreateTable().Model((*rollup)(nil)).Exec(ctx)
				return err
			})
		},
	})
	m.Add(migrate.Migration{
		Name: "20261125100003", Comment: "instances",
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			type instance struct {
				bun.BaseModel `bun:"table:switchboard_instances"`
				ID            string    `bun:"id,pk"`
				Host          string    `bun:"host,notnull"`
				Address       string    `bun:"address,notnull"`
				Version       string    `bun:"version,notnull"`
				StartedAt     time.Time `bun:"started_at,notnull"`
				LastSeenAt    time.Time `bun:"last_seen_at,notnull"`
				InFlight      int64     `bun:"in_flight,notnull"`
			}
			_, err := mg.DB().NewCreateTable().Model((*instance)(nil)).Exec(ctx)
			return err
		},
	})
	m.Add(migrate.Migration{
		Name: "20261125100004", Comment: "request_log_error_details",
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			_, err := mg.DB().NewAddColumn().Table("switchboard_request_logs").
				ColumnExpr("error_details TEXT NOT NULL DEFAULT ''").Exec(ctx)
			return err
		},
	})
	m.Add(migrate.Migration{
		Name: "20261127100001", Comment: "log_batches",
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			type logBatch struct {
				bun.BaseModel `bun:"table:switchboard_log_batches"`
				ID            string    `bun:"id,pk"`
				WrittenAt     time.Time `bun:"written_at,notnull"`
			}
			_, err := mg.DB().NewCreateTable().Model((*logBatch)(nil)).Exec(ctx)
			return err
		},
	})
	m.Add(migrate.Migration{
		Name: "20261127200002", Comment: "instance_stopped_at",
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			typ := "TIMESTAMP" // what bun makes of a time.Time column, per dialect
			if DialectOf(mg.DB()) == Postgres {
				typ = "TIMESTAMPTZ"
			}
			_, err := mg.DB().NewAddColumn().Table("switchboard_instances").
				ColumnExpr("stopped_at " + typ).Exec(ctx)
			return err
		},
	})
	m.Add(migrate.Migration{
		Name: "20261127200001", Comment: "cluster_payloads",
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			type clusterPayload struct {
				bun.BaseModel `bun:"table:switchboard_cluster_payloads"`
				ID            int64     `bun:"id,pk,autoincrement"`
				Payload       []byte    `bun:"payload,notnull"`
				CreatedAt     time.Time `bun:"created_at,notnull"`
			}
			_, err := mg.DB().NewCreateTable().Model((*clusterPayload)(nil)).Exec(ctx)
			return err
		},
	})
	m.Add(migrate.Migration{
		Name: "20261127200003", Comment: "rollup_counts_per_instance",
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			// Rollups become per-instance rows with the histogram as
			// columns, so a batch adds to them with one UPSERT and replicas
			// never share a row. The old rows are carried over as instance "".
			type oldRollup struct {
				bun.BaseModel `bun:"table:switchboard_rollups"`
				Minute        time.Time `bun:"minute,pk"`
				Procedure     string    `bun:"procedure,pk"`
				Code          string    `bun:"code,pk"`
				Count         int64     `bun:"count,notnull"`
				LatencySumUS  int64     `bun:"latency_sum_us,notnull"`
				RequestBytes  int64     `bun:"request_bytes,notnull"`
				ResponseBytes int64     `bun:"response_bytes,notnull"`
				Buckets       []int64   `bun:"buckets,type:text,notnull"`
			}
			type rollupCount struct {
				bun.BaseModel `bun:"table:switchboard_rollup_counts"`
				Minute        time.Time `bun:"minute,pk"`
				Procedure     string    `bun:"procedure,pk"`
				Code          string    `bun:"code,pk"`
				Instance      string    `bun:"instance,pk"`
				Count         int64     `bun:"count,notnull"`
				LatencySumUS  int64     `bun:"latency_sum_us,notnull"`
				RequestBytes  int64     `bun:"request_bytes,notnull"`
				ResponseBytes int64     `bun:"response_bytes,notnull"`
				B0            int64     `bun:"b0,notnull"`
				B1            int64     `bun:"b1,notnull"`
				B2            int64     `bun:"b2,notnull"`
				B3            int64     `bun:"b3,notnull"`
				B4            int64     `bun:"b4,notnull"`
				B5            int64     `bun:"b5,notnull"`
				B6            int64     `bun:"b6,notnull"`
				B7            int64     `bun:"b7,notnull"`
				B8            int64     `bun:"b8,notnull"`
				B9            int64     `bun:"b9,notnull"`
				B10           int64     `bun:"b10,notnull"`
				B11           int64     `bun:"b11,notnull"`
				B12           int64     `bun:"b12,notnull"`
				B13           int64     `bun:"b13,notnull"`
			}
			return mg.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				if _, err := tx.NewCreateTable().Model((*rollupCount)(nil)).Exec(ctx); err != nil {
					return err
				}
				var old []*oldRollup
				if err := tx.NewSelect().Model(&old).Scan(ctx); err != nil {
					return err
				}
				for len(old) > 0 {
					chunk := old[:min(len(old), 500)]
					old = old[len(chunk):]
					rows := make([]*rollupCount, 0, len(chunk))
					for _, o := range chunk {
						bucket := func(i int) int64 {
							if i < len(o.Buckets) {
								return o.Buckets[i]
							}
							return 0
						}
						rows = append(rows, &rollupCount{
							Minute: o.Minute, Procedure: o.Procedure, Code: o.Code,
							Count: o.Count, LatencySumUS: o.LatencySumUS,
							RequestBytes: o.RequestBytes, ResponseBytes: o.ResponseBytes,
							B0:  bucket(0),
							B1:  bucket(1),
							B2:  bucket(2),
							B3:  bucket(3),
							B4:  bucket(4),
							B5:  bucket(5),
							B6:  bucket(6),
							B7:  bucket(7),
							B8:  bucket(8),
							B9:  bucket(9),
							B10: bucket(10),
							B11: bucket(11),
							B12: bucket(12),
							B13: bucket(13),
						})
					}
					if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
						return err
					}
				}
				_, err := tx.NewDropTable().Model((*oldRollup)(nil)).Exec(ctx)
				return err
			})
		},
	})
	m.Add(migrate.Migration{
		Name: "20261127200004", Comment: "request_logs_partitioned_by_day",
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			if DialectOf(mg.DB()) != Postgres {
				return nil // SQLite has no partitions; retention deletes rows
			}
			return mg.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				const old = "switchboard_request_logs_unpartitioned"
				for _, q := range []string{
					"ALTER TABLE switchboard_request_logs RENAME TO " + old,
					"ALTER INDEX switchboard_request_logs_pkey RENAME TO " + old + "_pkey",
					"ALTER INDEX switchboard_request_logs_start_time_idx RENAME TO " + old + "_start_time_idx",
					"ALTER INDEX switchboard_request_logs_procedure_idx RENAME TO " + old + "_procedure_idx",
					"ALTER INDEX switchboard_request_logs_request_id_idx RENAME TO " + old + "_request_id_idx",
					"CREATE TABLE switchboard_request_logs (LIKE " + old + " INCLUDING DEFAULTS) PARTITION BY RANGE (start_time)",
					// The id sequence outlives the old table.
					"ALTER SEQUENCE switchboard_request_logs_id_seq OWNED BY switchboard_request_logs.id",
					"ALTER TABLE switchboard_request_logs ADD PRIMARY KEY (id, start_time)",
					"CREATE INDEX switchboard_request_logs_start_time_idx ON switchboard_request_logs (start_time)",
					"CREATE INDEX switchboard_request_logs_procedure_idx ON switchboard_request_logs (procedure, start_time)",
					"CREATE INDEX switchboard_request_logs_request_id_idx ON switchboard_request_logs (request_id)",
					"CREATE TABLE switchboard_request_logs_default PARTITION OF switchboard_request_logs DEFAULT",
				} {
					if _, err := tx.ExecContext(ctx, q); err != nil {
						return fmt.Errorf("%s: %w", q, err)
					}
				}
				var oldest time.Time
				if err := tx.NewRaw("SELECT coalesce(min(start_time), now()) FROM "+old).Scan(ctx, &oldest); err != nil {
					return err
				}
				if err := EnsureLogPartitions(ctx, tx, oldest, 2); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, "INSERT INTO switchboard_request_logs SELECT * FROM "+old); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, "DROP TABLE "+old)
				return err
			})
		},
	})
	m.Add(migrate.Migration{
		Name: "20261128100001", Comment: "request_logs_drop_procedure_index",
		// No query reads (procedure, start_time): the admin API filters by
		// service, method, code, key and request id, statistics read the
		// rollups. The index cost every logged call an insert into it.
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			_, err := mg.DB().ExecContext(ctx, "DROP INDEX IF EXISTS switchboard_request_logs_procedure_idx")
			return err
		},
	})
	m.Add(migrate.Migration{
		Name: "20261128200001", Comment: "request_logs_rest_route",
		// A call that came in on a REST route keeps the client's HTTP method
		// and the route's template (docs/rest.md); other calls leave both
		// empty. Added at the end, with a default, so existing rows and the
		// partitions of PostgreSQL's table take them as they are.
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			return mg.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				for _, column := range []string{"http_method", "http_route"} {
					if _, err := tx.ExecContext(ctx, "ALTER TABLE switchboard_request_logs ADD COLUMN "+column+" VARCHAR NOT NULL DEFAULT ''"); err != nil {
						return err
					}
				}
				return nil
			})
		},
	})
	return m
}
