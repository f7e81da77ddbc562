package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/switchboardkit/switchboard"
)

// API keys look like "sb_<id>_<secret>": the "sb_" prefix makes a leaked key
// recognisable to secret scanners, the id (12 characters) is public and
// indexes the row, and the secret (256 random bits, 52 characters) is shown
// once and stored only as its SHA-256.
const (
	apiKeyPrefix = "sb_"
	idBytes      = 7  // 56 bits → 12 base32 characters
	secretBytes  = 32 // 256 bits → 52 base32 characters
)

var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrKeyNotFound is returned when no API key has the given id.
var ErrKeyNotFound = errors.New("store: no such API key")

// NewAPIKey makes a key: the full secret string to hand to its owner once,
// and the row to store. ttl 0 means the key does not expire. Every scope must
// be a procedure pattern or a named scope (switchboard.ValidateScope).
func NewAPIKey(name string, scopes []string, ttl time.Duration, now time.Time) (string, *APIKey, error) {
	for _, s := range scopes {
		if err := switchboard.ValidateScope(s); err != nil {
			return "", nil, err
		}
	}
	id, err := randomString(idBytes)
	if err != nil {
		return "", nil, err
	}
	secret, err := randomString(secretBytes)
	if err != nil {
		return "", nil, err
	}
	key := &APIKey{
		ID:         id,
		Name:       name,
		SecretHash: hashSecret(secret),
		Scopes:     append([]string{}, scopes...),
		CreatedAt:  now.UTC().Truncate(time.Microsecond),
	}
	if ttl > 0 {
		key.ExpiresAt = key.CreatedAt.Add(ttl)
	}
	return apiKeyPrefix + id + "_" + secret, key, nil
}

// ParseAPIKey splits "sb_<id>_<secret>"; ok is false for anything else.
func ParseAPIKey(s string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(s, apiKeyPrefix)
	if !found {
		return "", "", false
	}
	id, secret, found = strings.Cut(rest, "_")
	if !found || len(id) == 0 || len(id) > 32 || len(secret) == 0 || len(secret) > 128 {
		return "", "", false
	}
	return id, secret, true
}

// Matches reports in constant time whether secret is this key's secret.
func (k *APIKey) Matches(secret string) bool {
	var buf [64]byte // a kit secret fits: hashing it then costs the call no allocation
	sum := sha256.Sum256(append(buf[:0], secret...))
	return subtle.ConstantTimeCompare(sum[:], k.SecretHash) == 1
}

// Usable reports whether the key is neither revoked nor expired at now.
func (k *APIKey) Usable(now time.Time) bool {
	return k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("store: random key: %w", err)
	}
	return keyEncoding.EncodeToString(b), nil
}

// CreateAPIKey stores key.
func CreateAPIKey(ctx context.Context, db bun.IDB, key *APIKey) error {
	_, err := db.NewInsert().Model(key).Exec(ctx)
	return err
}

// FindAPIKey loads one key by id; ErrKeyNotFound if there is none.
func FindAPIKey(ctx context.Context, db bun.IDB, id string) (*APIKey, error) {
	key := new(APIKey)
	if err := db.NewSelect().Model(key).Where("id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrKeyNotFound
		}
		return nil, err
	}
	return key, nil
}

// ListAPIKeys returns every key, newest first.
func ListAPIKeys(ctx context.Context, db bun.IDB) ([]*APIKey, error) {
	var keys []*APIKey
	err := db.NewSelect().Model(&keys).OrderExpr("created_at DESC, id").Scan(ctx)
	return keys, err
}

// RevokeAPIKey marks a key revoked at now; revoking twice keeps the first
// time. ErrKeyNotFound if there is no such key.
func RevokeAPIKey(ctx context.Context, db bun.IDB, id string, now time.Time) error {
	res, err := db.NewUpdate().Model((*APIKey)(nil)).
		Set("revoked_at = COALESCE(revoked_at, ?)", now.UTC().Truncate(time.Microsecond)).
		Where("id = ?", id).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrKeyNotFound
	}
	return nil
}

// TouchAPIKeys records last-used times in one transaction (batched by the
// caller, so verifying a key does not write on every call).
func TouchAPIKeys(ctx context.Context, db *bun.DB, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for id, at := range used {
			if _, err := tx.NewUpdate().Model((*APIKey)(nil)).
				Set("last_used_at = ?", at.UTC().Truncate(time.Microsecond)).
				Where("id = ?", id).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// CreateFirstAPIKey makes a key with scopes, but only if the database holds
// no key at all, and returns its secret (empty when keys existed). Replicas
// starting together on one PostgreSQL make one key between them: the check
// and the insert run under a transaction-scoped advisory lock (on SQLite the
// transaction's write lock serializes them).
func CreateFirstAPIKey(ctx context.Context, db *bun.DB, name string, scopes []string) (string, *APIKey, error) {
	var secret string
	var created *APIKey
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if DialectOf(db) == Postgres {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('switchboard_first_api_key'))"); err != nil {
				return err
			}
		}
		n, err := tx.NewSelect().Model((*APIKey)(nil)).Count(ctx)
		if err != nil || n > 0 {
			return err
		}
		s, key, err := NewAPIKey(name, scopes, 0, time.Now())
		if err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(key).Exec(ctx); err != nil {
			return err
		}
		secret, created = s, key
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return secret, created, nil
}
