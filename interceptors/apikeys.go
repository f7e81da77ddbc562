package interceptors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect/v2"
	"github.com/uptrace/bun"

	"github.com/switchboardkit/switchboard"
	"github.com/switchboardkit/switchboard/store"
)

// APIKeys is the built-in Authenticator: keys "sb_<id>_<secret>" stored in
// the kit's database (store.APIKey), sent as "Authorization: Bearer <key>" or
// in the API key header (default x-api-key).
//
// Verified keys are cached for CacheTTL (default 10s), so a revocation made
// by another process takes effect within that time (at once in this process,
// through Forget). Last-used times are collected in memory and written in one
// batch every FlushInterval, never on the call's path.
type APIKeys struct {
	db       *bun.DB // reads: key lookups
	writer   *bun.DB // last-used times
	header   string
	cacheTTL time.Duration
	flush    time.Duration
	logger   *slog.Logger
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]cachedKey
	used  map[string]time.Time
}

type cachedKey struct {
	key     *store.APIKey
	fetched time.Time
}

// APIKeysOptions tune NewAPIKeys; zero values take the defaults.
type APIKeysOptions struct {
	Header        string        // default "X-Api-Key"
	CacheTTL      time.Duration // default 10s
	FlushInterval time.Duration // default 30s
	Logger        *slog.Logger
}

// NewAPIKeys returns the authenticator: it looks keys up through reader (a
// read pool, so auth never waits behind writers) and records last-used
// times through writer; run Run in a goroutine to flush them. reader and
// writer may be the same handle.
func NewAPIKeys(reader, writer *bun.DB, opts APIKeysOptions) *APIKeys {
	if opts.Header == "" {
		opts.Header = "X-Api-Key"
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 10 * time.Second
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &APIKeys{
		db: reader, writer: writer, header: opts.Header, cacheTTL: opts.CacheTTL, flush: opts.FlushInterval,
		logger: opts.Logger, now: time.Now,
		cache: make(map[string]cachedKey), used: make(map[string]time.Time),
	}
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
	return &switchboard.Principal{KeyID: key.ID, Name: key.Name, Scopes: append([]string{}, key.Scopes...)}, nil
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
	if key := header.Get(a.header); key != "" {
		return strings.TrimSpace(key), true
	}
	return "", false
}

func (a *APIKeys) lookup(ctx context.Context, id string) (*store.APIKey, error) {
	a.mu.Lock()
	c, ok := a.cache[id]
	a.mu.Unlock()
	if ok && a.now().Sub(c.fetched) < a.cacheTTL {
		return c.key, nil
	}
	key, err := store.FindAPIKey(ctx, a.db, id)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.cache[id] = cachedKey{key: key, fetched: a.now()}
	a.mu.Unlock()
	return key, nil
}

// Forget drops a key from the cache (after revoking it in this process).
func (a *APIKeys) Forget(id string) {
	a.mu.Lock()
	delete(a.cache, id)
	a.mu.Unlock()
}

// Run flushes last-used times every FlushInterval until ctx ends, then once
// more.
func (a *APIKeys) Run(ctx context.Context) {
	t := time.NewTicker(a.flush)
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
		a.logger.Warn("api keys: could not record last use", "keys", len(used), "error", err)
	}
}
