// Package events tells code in the same process what the kit saw — every
// finished call (the very record the request log writes), API keys created
// and revoked, calls refused for their credentials — the Go answer to
// Django's signals. Delivery is asynchronous: a slow subscriber loses events
// (counted), it never slows or fails a call.
//
// What it must not do: block a publisher, or carry a secret (key events
// carry the key id only).
package events

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardkit/switchboard/store"
)

// Kind names what happened.
type Kind string

const (
	// CallFinished: a call ended; Event.Call is its request-log record.
	CallFinished Kind = "call.finished"
	// KeyCreated: an API key was made; Event.KeyID names it.
	KeyCreated Kind = "key.created"
	// KeyRevoked: an API key was revoked; Event.KeyID names it.
	KeyRevoked Kind = "key.revoked"
	// KeyRejected: a call was refused for its credentials; Event.Reason
	// says why, KeyID names the key they claimed (if any).
	KeyRejected Kind = "key.rejected"
	// InstanceUp and InstanceDown: a replica of the fleet (this one
	// included) began serving, or began shutting down; Event.Instance names
	// it. A replica killed outright sends nothing: the admin API shows it
	// down once its heartbeats stop.
	InstanceUp   Kind = "instance.up"
	InstanceDown Kind = "instance.down"
)

// Event is one thing the kit saw. Call is set for call.finished (treat it as
// read-only); KeyID for key events (never the secret); Procedure, Reason and
// PeerIP for key.rejected; Instance for instance events.
type Event struct {
	Kind      Kind
	At        time.Time
	Call      *store.RequestLog
	KeyID     string
	Procedure string
	Reason    string
	PeerIP    string
	Instance  string
}

// Bus delivers events to subscribers. The zero value is not usable; make
// one with New. A nil *Bus drops every event, so publishers need no check.
type Bus struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
}

// New returns an empty bus.
func New() *Bus { return &Bus{subs: make(map[*Subscription]struct{})} }

// Publish hands ev to every subscriber without waiting: a subscriber whose
// buffer is full loses it (Subscription.Dropped).
func (b *Bus) Publish(ev Event) {
	if b == nil {
		return
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
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

// Record publishes a finished call; it makes the bus a sink of the request
// log, so every call is seen, with or without a row of its own.
func (b *Bus) Record(rec *store.RequestLog, _ bool) {
	b.Publish(Event{Kind: CallFinished, Call: rec, KeyID: rec.KeyID, Procedure: rec.Procedure})
}

// Subscribe calls fn with every event from now on, in order, on a goroutine
// of its own, buffering up to buffer events (default 1024 when ≤ 0). Close
// the subscription to stop.
func (b *Bus) Subscribe(buffer int, fn func(Event)) *Subscription {
	if buffer <= 0 {
		buffer = 1024
	}
	sub := &Subscription{events: make(chan Event, buffer), done: make(chan struct{}), bus: b}
	b.mu.Lock()
	b.subs[sub] = struct{}{}
	b.mu.Unlock()
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

// Subscribers reports how many subscriptions are open now (the admin live
// tails among them).
func (b *Bus) Subscribers() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.subs)
}

// Subscription is a live subscription.
type Subscription struct {
	events  chan Event
	dropped atomic.Int64
	done    chan struct{}
	once    sync.Once
	bus     *Bus
}

// Dropped reports events lost to a full buffer.
func (s *Subscription) Dropped() int64 { return s.dropped.Load() }

// Close stops delivery; events already buffered are discarded.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
		close(s.done)
	})
}
