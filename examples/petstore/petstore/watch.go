package petstore

import (
	"sync"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
)

// hub fans this process's committed writes out to WatchPets streams.
//
// It sees only the writes of this process. With several replicas sharing one
// PostgreSQL, each replica would publish its commits with NOTIFY and every
// replica would LISTEN and feed its own hub, so a watcher sees all writes
// whichever replica it is connected to.
type hub struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

// subscriber is one WatchPets stream. A subscriber that falls more than its
// buffer behind is cut off (overflow closes) rather than slowing writers or
// silently missing events.
type subscriber struct {
	species  petstorev1.Species
	events   chan *petstorev1.WatchPetsResponse
	overflow chan struct{}
}

const watchBuffer = 256

func newHub() *hub { return &hub{subs: make(map[*subscriber]struct{})} }

func (h *hub) subscribe(species petstorev1.Species) (*subscriber, func()) {
	s := &subscriber{
		species:  species,
		events:   make(chan *petstorev1.WatchPetsResponse, watchBuffer),
		overflow: make(chan struct{}),
	}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s, func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
	}
}

// publish delivers one event to every matching subscriber without blocking.
func (h *hub) publish(typ petstorev1.EventType, pets ...*petstorev1.Pet) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, pet := range pets {
		for s := range h.subs {
			if s.species != petstorev1.Species_SPECIES_UNSPECIFIED && s.species != pet.GetSpecies() {
				continue
			}
			select {
			case s.events <- &petstorev1.WatchPetsResponse{Type: typ, Pet: pet}:
			default:
				close(s.overflow)
				delete(h.subs, s)
			}
		}
	}
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
