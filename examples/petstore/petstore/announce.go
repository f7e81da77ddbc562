package petstore

// Watchers on every replica see every write: a write is announced on the
// kit's cluster bus (PostgreSQL LISTEN/NOTIFY between replicas; in-process
// on SQLite), and every replica's hub — this one's included — is fed from
// the bus, never from its own writes directly. This is the pattern to copy
// for anything a service streams to watchers: publish after commit,
// subscribe once, and treat a gap (messages the bus may have lost) as "tell
// the watchers to re-list".

import (
	"context"
	"encoding/json"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/switchboardkit/switchboard/cluster"
	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
)

// petsTopic is the cluster-bus topic of committed pet changes.
const petsTopic = "petstore.pets"

// petEvents is one committed change on the bus: an event type and its
// pets, as protojson (an ImportPets batch travels as one message; a large
// one goes by reference, which the bus handles).
type petEvents struct {
	Type petstorev1.EventType `json:"type"`
	Pets []json.RawMessage    `json:"pets"`
}

// listen feeds the hub from the bus until the service is dropped.
func (s *Service) listen() {
	s.bus.Subscribe(petsTopic, cluster.Handler{
		Message: func(m cluster.Message) {
			var ev petEvents
			if err := json.Unmarshal(m.Payload, &ev); err != nil {
				s.hub.gap() // an event we cannot read is an event missed
				return
			}
			pets := make([]*petstorev1.Pet, 0, len(ev.Pets))
			for _, raw := range ev.Pets {
				pet := new(petstorev1.Pet)
				if err := protojson.Unmarshal(raw, pet); err != nil {
					s.hub.gap()
					return
				}
				pets = append(pets, pet)
			}
			s.hub.publish(ev.Type, pets...)
		},
		Gap: func(cluster.Gap) { s.hub.gap() },
	})
}

// announce publishes a committed change to every replica's watchers. If
// the bus cannot take it, this replica's watchers are told they missed an
// event (the others learn it from the bus's own gap detection).
func (s *Service) announce(ctx context.Context, typ petstorev1.EventType, pets ...*petstorev1.Pet) {
	ev := petEvents{Type: typ, Pets: make([]json.RawMessage, 0, len(pets))}
	for _, pet := range pets {
		raw, err := protojson.Marshal(pet)
		if err != nil {
			s.hub.gap()
			return
		}
		ev.Pets = append(ev.Pets, raw)
	}
	payload, err := json.Marshal(ev)
	if err == nil {
		err = s.bus.Publish(context.WithoutCancel(ctx), petsTopic, payload)
	}
	if err != nil {
		s.hub.gap()
	}
}
