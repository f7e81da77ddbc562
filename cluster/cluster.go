package cluster

import (
	"context"
	"sync"
)

// Message is one message on a topic.
type Message struct {
	Topic   string
	Payload []byte
	// Origin names the replica that published it (Bus.Origin), and Seq
	// numbers its messages on this topic from 1.
	Origin string
	Seq    uint64
}

// Gap tells a subscriber it may have missed messages on its topic.
type Gap struct {
	Topic string
	// Reason says why: "reconnected" (the listener was disconnected for a
	// while) or "sequence" (a publisher's messages arrived with a hole).
	Reason string
}

// Handler receives a topic's messages and gaps. Both run on the bus's
// delivery goroutine, one call at a time, and must return quickly: hand
// work to a goroutine of your own. They must not publish or unsubscribe
// (the bus holds its locks while it delivers).
type Handler struct {
	Message func(Message)
	// Gap, when set, is told when messages may have been missed.
	Gap func(Gap)
}

// Bus publishes and delivers messages between the replicas that share a
// database. Every subscriber on every replica — the publisher's own
// included — receives each message once, unless a Gap says otherwise.
type Bus interface {
	// Publish sends payload on topic to every subscriber of the fleet. It
	// returns once the database has taken the message (PostgreSQL) or the
	// local subscribers have it (in-process).
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe delivers topic's messages to h until the returned function
	// is called.
	Subscribe(topic string, h Handler) (unsubscribe func())
	// Origin is this replica's name in Message.Origin.
	Origin() string
}

// subscribers is the topic → handlers table both buses share.
type subscribers struct {
	mu     sync.RWMutex
	topics map[string]map[*Handler]struct{}
}

func (s *subscribers) add(topic string, h Handler) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topics == nil {
		s.topics = map[string]map[*Handler]struct{}{}
	}
	if s.topics[topic] == nil {
		s.topics[topic] = map[*Handler]struct{}{}
	}
	p := &h
	s.topics[topic][p] = struct{}{}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.topics[topic], p)
	}
}

func (s *subscribers) deliver(m Message) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for h := range s.topics[m.Topic] {
		if h.Message != nil {
			h.Message(m)
		}
	}
}

// gapOn tells the subscribers of one topic.
func (s *subscribers) gapOn(topic, reason string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.tellGap(topic, reason)
}

// gap tells every subscriber of every topic.
func (s *subscribers) gap(reason string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for topic := range s.topics {
		s.tellGap(topic, reason)
	}
}

// tellGap tells topic's subscribers; called with s.mu held.
func (s *subscribers) tellGap(topic, reason string) {
	for h := range s.topics[topic] {
		if h.Gap != nil {
			h.Gap(Gap{Topic: topic, Reason: reason})
		}
	}
}

// Local is the in-process Bus, for a single process (SQLite): Publish
// delivers to the subscribers before it returns, so nothing is missed.
type Local struct {
	subs   subscribers
	origin string
	mu     sync.Mutex
	seq    map[string]uint64
}

// NewLocal returns an in-process bus.
func NewLocal(origin string) *Local { return &Local{origin: origin, seq: map[string]uint64{}} }

// Publish implements Bus.
func (l *Local) Publish(_ context.Context, topic string, payload []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq[topic]++
	l.subs.deliver(Message{Topic: topic, Payload: payload, Origin: l.origin, Seq: l.seq[topic]})
	return nil
}

// Subscribe implements Bus.
func (l *Local) Subscribe(topic string, h Handler) func() { return l.subs.add(topic, h) }

// Origin implements Bus.
func (l *Local) Origin() string { return l.origin }
