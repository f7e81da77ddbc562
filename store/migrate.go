package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// Migrate applies every unapplied migration of one set. Each set keeps its
// own bookkeeping tables (name_migrations, name_migration_locks), so the kit
// and an application can evolve their schemas independently in one database.
//
// Migrations are recorded only after they succeed, so a failed one runs again
// on the next start. Concurrent starters (replicas sharing one PostgreSQL)
// serialize on bun's migration lock; Migrate waits up to lockWait for it.
// It returns the names of the migrations it applied.
func Migrate(ctx context.Context, db *bun.DB, name string, migrations *migrate.Migrations) ([]string, error) {
	const lockWait = 30 * time.Second
	if DialectOf(db) == Postgres {
		// Concurrent CREATE TABLE IF NOT EXISTS races in PostgreSQL's
		// catalog, so replicas starting together first queue on an
		// advisory lock held by one pooled session.
		unlock, err := advisoryLock(ctx, db, name+"_migrations")
		if err != nil {
			return nil, fmt.Errorf("store: lock %s migrations: %w", name, err)
		}
		defer unlock()
	}
	migrator := migrate.NewMigrator(db, migrations,
		migrate.WithTableName(name+"_migrations"),
		migrate.WithLocksTableName(name+"_migration_locks"),
		migrate.WithMarkAppliedOnSuccess(true),
	)
	if err := migrator.Init(ctx); err != nil {
		return nil, fmt.Errorf("store: init %s migrations: %w", name, err)
	}
	if err := lock(ctx, migrator, lockWait); err != nil {
		return nil, fmt.Errorf("store: %s migrations are locked by another process for over %s "+
			"(if none is running, delete the row from %s_migration_locks): %w", name, lockWait, name, err)
	}
	defer func() { _ = migrator.Unlock(context.WithoutCancel(ctx)) }()

	group, err := migrator.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: apply %s migrations: %w", name, err)
	}
	applied := make([]string, 0, len(group.Migrations))
	for _, m := range group.Migrations {
		applied = append(applied, m.Name)
	}
	return applied, nil
}

func lock(ctx context.Context, migrator *migrate.Migrator, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	backoff := 50 * time.Millisecond
	for {
		err := migrator.Lock(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// advisoryLock takes a PostgreSQL session advisory lock on one dedicated
// connection and returns the function that releases it.
func advisoryLock(ctx context.Context, db *bun.DB, key string) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(hashtext(?))", key); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext(?))", key)
		_ = conn.Close()
	}, nil
}
