// Package cluster carries messages between the replicas of one service —
// the processes that share one database — so that what one replica learns
// (a write watchers must see, a revoked key, an instance going down)
// reaches the others.
//
// On PostgreSQL, the Bus is LISTEN/NOTIFY on one channel: the only shared
// part is the database the replicas already use, no new server to run. A
// message travels as a small JSON envelope in the notification; one larger
// than NOTIFY's 8000-byte limit is stored in a table and the envelope
// carries a reference. The listener holds its own connection (pgx, through
// jackc/pgxlisten) and reconnects with backoff after a failure. On SQLite,
// where every writer is one process, the Bus is in-process.
//
// Delivery is at most once. A subscriber is told when it may have missed
// messages on its topic — after the listener reconnects, or when a
// publisher's sequence number for the topic jumps — so it can resync from
// the database (re-read, clear a cache, end a watch). Messages from one
// publisher arrive in the order it published them.
//
// What it must not do: block a publisher on a slow subscriber, carry
// secrets (messages are readable by anyone who can LISTEN on the
// database), or stand in for the database: it says that something changed,
// the database says what is.
package cluster
