package kit

// Events: the Go answer to Django's signals. Code in the same process
// subscribes to what the kit sees — every finished call (the very record the
// request log writes), API keys created and revoked through the Server, and
// calls refused for their credentials — and is told asynchronously: a slow
// subscriber loses events (counted), it never slows or fails a call.

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardkit/switchboard/interceptors"
	"github.com/switchboardkit/switchboard/store"
)

// EventKind names what happened.
type EventKind string

const (
	EventCallFinished EventKind = "call.finished"
	EventKeyCreated   EventKind = "key.created"
	EventKeyRevoked   EventKind = "key.revoked"
	EventKeyRejected  EventKind = "key.rejected"
)

// Event is one thing the kit saw. Call is set for call.finished (treat it as
// read-only); KeyID for key events (never the secret); Procedure, Reason and
// PeerIP for key.rejected.
type Event struct {
	Kind      EventKind
	At        time.Time
	Call      *store.RequestLog
	KeyID     string
	Procedure string
	Reason    string
	PeerIP    string
}

// Subscription is a live subscription; Dropped counts events it lost
// because its buffer was full.
type Subscription struct {
	events  chan Event
	dropped atomic.Int64
	done    chan struct{}
	once    sync.Once
	bus     *eventBus
}

// Dropped reports events lost to a full buffer.
func (s *Subscription) Dropped() int64 { return s.dropped.Load() }

// Close stops delivery; events already buffered are discarded.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.bus.remove(s)
		close(s.done)
	})
}

type eventBus struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
}

func newEventBus() *eventBus { return &eventBus{subs: make(map[*Subscription]struct{})} }

func (b *eventBus) remove(s *Subscription) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

func (b *eventBus) publish(ev Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		select {
		case s.events <- ev:
		default:
			s.dropped.Add(1)
		}
	}
}

// Subscribe calls fn with every event from now on, in order, on a goroutine
// of its own, buffering up to buffer events (default 1024 when ≤ 0). Close
// the subscription to stop.
func (s *Server) Subscribe(buffer int, fn func(Event)) *Subscription {
	if buffer <= 0 {
		buffer = 1024
	}
	sub := &Subscription{events: make(chan Event, buffer), done: make(chan struct{}), bus: s.events}
	s.events.mu.Lock()
	s.events.subs[sub] = struct{}{}
	s.events.mu.Unlock()
	go func() {
		for {
			select {
			case ev := <-sub.events:
				fn(ev)
			case <-sub.done:
				return
			}
		}
	}()
	return sub
}

func (s *Server) publishCall(rec *store.RequestLog) {
	s.events.publish(Event{Kind: EventCallFinished, At: time.Now(), Call: rec, KeyID: rec.KeyID, Procedure: rec.Procedure})
}

func (s *Server) publishRejection(_ context.Context, r interceptors.Rejection) {
	s.events.publish(Event{Kind: EventKeyRejected, At: time.Now(), KeyID: r.KeyID,
		Procedure: r.Procedure, Reason: r.Reason, PeerIP: r.PeerIP})
}

// CreateAPIKey makes and stores a key with scopes (ttl 0: no expiry) and
// returns the secret — shown once, stored only as a hash — and the row.
func (s *Server) CreateAPIKey(ctx context.Context, name string, scopes []string, ttl time.Duration) (string, *store.APIKey, error) {
	secret, key, err := store.NewAPIKey(name, scopes, ttl, time.Now())
	if err != nil {
		return "", nil, err
	}
	if err := store.CreateAPIKey(ctx, s.db, key); err != nil {
		return "", nil, err
	}
	s.events.publish(Event{Kind: EventKeyCreated, At: time.Now(), KeyID: key.ID})
	return secret, key, nil
}

// RevokeAPIKey revokes a key; this server stops accepting it at once (others
// sharing the database within their api-key-cache-ttl).
func (s *Server) RevokeAPIKey(ctx context.Context, id string) error {
	if err := store.RevokeAPIKey(ctx, s.db, id, time.Now()); err != nil {
		return err
	}
	if s.apiKeys != nil {
		s.apiKeys.Forget(id)
	}
	s.events.publish(Event{Kind: EventKeyRevoked, At: time.Now(), KeyID: id})
	return nil
}
