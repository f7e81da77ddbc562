// Package store opens the kit's database through bun and applies schema
// migrations. It is the one place that knows which SQL dialects exist:
// embedded SQLite (pure Go, no cgo; the default) and PostgreSQL, chosen by the
// DSN alone, so the same models and queries run on both.
//
// What it is for:
//   - Open: a DSN in, a configured *bun.DB out (driver, dialect, pool, pragmas).
//   - Migrate: apply one named set of bun migrations, under bun's migration
//     lock, recording each migration only once it has succeeded.
//
// What it must not do: hold business rules, log secrets, or import anything of
// the kit above it. Models that belong to one feature (request logs, API keys,
// an application's own tables) live with that feature and hand their
// migrations to Migrate.
package store
