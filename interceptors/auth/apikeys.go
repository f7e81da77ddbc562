package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect/v2"
	"github.com/uptrace/bun"

	"github.com/switchboardkit/switchboard"
	"github.com/switchboardkit/switchboard/cluster"
	"github.com/switchboardkit/switchboard/events"
	"github.com/switchboardkit/switchboard/store"
)

// APIKeys is the built-in Authenticator and the keeper of the kit's API
// keys: keys "sb_<id>_<secret>" stored in the kit's database (store.APIKey),
// sent as "Authorization: Bearer <key>" or in the API key header (default
// x-api-key). Create and Revoke manage them, telling the event bus.
//
// Verified keys are cached for CacheTTL. A revocation takes effect at once
// in the process that makes it, and on every other replica as soon as the
// cluster bus tells it (KeysConfig.Cluster; within the cache TTL without
// one, or when the bus could not deliver: a replica that may have missed a
// revocation empties its cache). Last-used times are collected in memory
// and written in one batch every FlushInterval, never on the call's path.
type APIKeys struct {
	db     *bun.DB // reads: key lookups
	writer *bun.DB // writes: create, revoke, last-used times
	cfg    KeysConfig
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]cachedKey
	gen   uint64 // bumped by every invalidation: a lookup begun before one does not refill the cache
	used  map[string]time.Time

	unsubscribe func()
}

// RevokedTopic is the cluster-bus topic of revoked key ids.
const RevokedTopic = "switchboard.keys.revoked"

type cachedKey struct {
	key     *store.APIKey
	fetched time.Time
}

// KeysConfig tunes APIKeys. Start from DefaultKeysConfig.
type KeysConfig struct {
	// Header is the header that may carry a key besides "Authorization:
	// Bearer"; empty: Bearer only.
	Header string
	// CacheTTL is how long a verified key is trusted without asking the
	// database; 0: every call asks.
	CacheTTL time.Duration
	// FlushInterval is how often last-used times are written; ≤ 0 is the
	// default.
	FlushInterval time.Duration
	// Logger receives failures to record last use; nil is slog.Default().
	Logger *slog.Logger
	// Events, when set, is told of keys created and revoked.
	Events *events.Bus
	// Cluster, when set, carries revocations to every replica.
	Cluster cluster.Bus
}

// DefaultKeysConfig returns the defaults: header X-Api-Key, a 10 s cache,
// last use written every 30 s.
func DefaultKeysConfig() KeysConfig {
	return KeysConfig{Header: "X-Api-Key", CacheTTL: 10 * time.Second, FlushInterval: 30 * time.Second}
}

// NewAPIKeys returns the keeper: it looks keys up through reader (a read
// pool, so auth never waits behind writers) and writes through writer; run
// Run in a goroutine to flush last-used times. reader and writer may be the
// same handle.
func NewAPIKeys(reader, writer *bun.DB, cfg KeysConfig) *APIKeys {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultKeysConfig().FlushInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &APIKeys{
		db: reader, writer: writer, cfg: cfg, now: time.Now,
		cache: make(map[string]cachedKey), used: make(map[string]time.Time),
		unsubscribe: func() {},
	}
	if cfg.Cluster != nil {
		a.unsubscribe = cfg.Cluster.Subscribe(RevokedTopic, cluster.Handler{
			Message: func(m cluster.Message) { a.forget(string(m.Payload)) },
			Gap:     func(cluster.Gap) { a.forget("") },
		})
	}
	return a
}

// forget drops one key from the cache, or every key when id is "".
func (a *APIKeys) forget(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	if id == "" {
		clear(a.cache)
		return
	}
	delete(a.cache, id)
}

// Create makes and stores a key with scopes (ttl 0: no expiry) and returns
// the secret — shown once, stored only as a hash — and the row.
func (a *APIKeys) Create(ctx context.Context, name string, scopes []string, ttl time.Duration) (string, *store.APIKey, error) {
	secret, key, err := store.NewAPIKey(name, scopes, ttl, a.now())
	if err != nil {
		return "", nil, err
	}
	if err := store.CreateAPIKey(ctx, a.writer, key); err != nil {
		return "", nil, err
	}
	a.cfg.Events.Publish(events.Event{Kind: events.KeyCreated, KeyID: key.ID})
	return secret, key, nil
}

// CreateFirst makes the first key when the database holds none at all (see
// store.CreateFirstAPIKey); it returns a nil key when there already was one.
func (a *APIKeys) CreateFirst(ctx context.Context, name string, scopes []string) (string, *store.APIKey, error) {
	secret, key, err := store.CreateFirstAPIKey(ctx, a.writer, name, scopes)
	if err == nil && key != nil {
		a.cfg.Events.Publish(events.Event{Kind: events.KeyCreated, KeyID: key.ID})
	}
	return secret, key, err
}

// Revoke revokes a key: this process stops accepting it at once, and the
// other replicas as soon as the cluster bus tells them (within their
// CacheTTL without a bus). store.ErrKeyNotFound when there is no such key.
func (a *APIKeys) Revoke(ctx context.Context, id string) error {
	if err := store.RevokeAPIKey(ctx, a.writer, id, a.now()); err != nil {
		return err
	}
	a.forget(id)
	if a.cfg.Cluster != nil {
		if err := a.cfg.Cluster.Publish(ctx, RevokedTopic, []byte(id)); err != nil {
			a.cfg.Logger.Warn("api keys: could not tell the other replicas of a revocation; they stop accepting the key within the cache TTL",
				"key_id", id, "error", err)
		}
	}
	a.cfg.Events.Publish(events.Event{Kind: events.KeyRevoked, KeyID: id})
	return nil
}

// Authenticate implements Authenticator.
func (a *APIKeys) Authenticate(ctx context.Context, header *connect.Header) (*switchboard.Principal, error) {
	token, present := a.token(header)
	if !present {
		return nil, nil
	}
	id, secret, ok := store.ParseAPIKey(token)
	if !ok {
		return nil, fmt.Errorf("%w: not an API key", ErrInvalidCredentials)
	}
	key, err := a.lookup(ctx, id)
	if errors.Is(err, store.ErrKeyNotFound) {
		return nil, &CredentialError{KeyID: id, Detail: "unknown key"}
	}
	if err != nil {
		return nil, err
	}
	now := a.now()
	switch {
	case !key.Matches(secret):
		return nil, &CredentialError{KeyID: id, Detail: "wrong secret"}
	case !key.RevokedAt.IsZero():
		return nil, &CredentialError{KeyID: id, Detail: "revoked"}
	case !key.Usable(now):
		return nil, &CredentialError{KeyID: id, Detail: "expired"}
	}
	a.mu.Lock()
	a.used[id] = now
	a.mu.Unlock()
	// The scopes are copied: a handler that edits its principal must not
	// change what the cached key grants to the calls after it.
	return &switchboard.Principal{KeyID: key.ID, Name: key.Name, Scopes: slices.Clone(key.Scopes)}, nil
}

// token finds the credential: a Bearer Authorization header or the API key
// header. A request with an Authorization header of another scheme carries
// credentials this authenticator cannot accept, which is not anonymous.
func (a *APIKeys) token(header *connect.Header) (string, bool) {
	if auth := header.Get("Authorization"); auth != "" {
		scheme, rest, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", true
		}
		return strings.TrimSpace(rest), true
	}
	if a.cfg.Header == "" {
		return "", false
	}
	if key := header.Get(a.cfg.Header); key != "" {
		return strings.TrimSpace(key), true
	}
	return "", false
}

func (a *APIKeys) lookup(ctx context.Context, id string) (*store.APIKey, error) {
	a.mu.Lock()
	c, ok := a.cache[id]
	gen := a.gen
	a.mu.Unlock()
	if ok && a.now().Sub(c.fetched) < a.cfg.CacheTTL {
		return c.key, nil
	}
	key, err := store.FindAPIKey(ctx, a.db, id)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.gen == gen { // no invalidation raced this read
		a.cache[id] = cachedKey{key: key, fetched: a.now()}
	}
	a.mu.Unlock()
	return key, nil
}

// Run flushes last-used times every FlushInterval until ctx ends, then once
// more, and stops listening for revocations.
func (a *APIKeys) Run(ctx context.Context) {
	defer a.unsubscribe()
	t := time.NewTicker(a.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			a.Flush(ctx)
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			a.Flush(flushCtx)
			cancel()
			return
		}
	}
}

// Flush writes the collected last-used times now.
func (a *APIKeys) Flush(ctx context.Context) {
	a.mu.Lock()
	used := a.used
	a.used = make(map[string]time.Time)
	a.mu.Unlock()
	if err := store.TouchAPIKeys(ctx, a.writer, used); err != nil {
		a.cfg.Logger.Warn("api keys: could not record last use", "keys", len(used), "error", err)
	}
}
