package petstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
)

// hub fans committed writes — of every replica, as the cluster bus delivers
// them (announce.go) — out to this replica's WatchPets streams.
//
// A write costs the writer the same whatever the number of watchers: publish
// appends the events to a ring shared by every watcher and schedules one
// wake-up; it never touches a watcher. Each watcher reads the ring from its
// own cursor on its own goroutine, filters by species there, and sends the
// shared (read-only) event messages. A watcher that falls more than the ring
// behind is told so and cut off, rather than slowing writers or silently
// missing events. The cost of many watchers is then theirs alone, and is
// bounded by the kit's stream caps (-max-streams…).
//
// When the bus may have lost events (gap), every watcher is told so and
// cut off: it must re-list rather than trust a stream with a hole in it.
type hub struct {
	mu      sync.Mutex
	ring    [watchRing]*petstorev1.WatchPetsResponse
	next    uint64        // sequence number of the next event
	changed chan struct{} // closed (and replaced) after events are appended

	gaps     uint64      // times events may have been missed; watchers started before one end
	waking   atomic.Bool // a wake-up is scheduled and has not started yet
	watchers atomic.Int64
}

// watchRing is how many events a watcher may fall behind before it is cut
// off.
const watchRing = 1024

func newHub() *hub { return &hub{changed: make(chan struct{})} }

// publish appends events and schedules one wake-up for all watchers. It does
// O(len(pets)) work whatever the number of watchers.
func (h *hub) publish(typ petstorev1.EventType, pets ...*petstorev1.Pet) {
	h.mu.Lock()
	for _, pet := range pets {
		h.ring[h.next%watchRing] = &petstorev1.WatchPetsResponse{Type: typ, Pet: pet}
		h.next++
	}
	h.mu.Unlock()
	if h.waking.CompareAndSwap(false, true) {
		go h.wake()
	}
}

// gap tells every watcher that events may have been missed.
func (h *hub) gap() {
	h.mu.Lock()
	h.gaps++
	h.mu.Unlock()
	if h.waking.CompareAndSwap(false, true) {
		go h.wake()
	}
}

// wake releases every watcher waiting for events. It runs off the writer's
// path: closing a channel readies each goroutine blocked on it.
func (h *hub) wake() {
	h.waking.Store(false) // a publish from here on schedules another wake
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// watcher is one WatchPets stream's view of the hub.
type watcher struct {
	h       *hub
	species petstorev1.Species
	cursor  uint64
	gaps    uint64 // the hub's gaps when the watcher started
}

// watch starts a watcher at the next event; call stop when done.
func (h *hub) watch(species petstorev1.Species) (w *watcher, stop func()) {
	h.mu.Lock()
	w = &watcher{h: h, species: species, cursor: h.next, gaps: h.gaps}
	h.mu.Unlock()
	h.watchers.Add(1)
	return w, func() { h.watchers.Add(-1) }
}

// errMissed is returned by next when the bus may have lost events since the
// watcher started.
var errMissed = errors.New("events may have been missed")

// errFellBehind is returned by next when the ring overtook the watcher.
var errFellBehind = errFellBehindType{}

type errFellBehindType struct{}

func (errFellBehindType) Error() string { return "watcher fell behind" }

// next waits for the watcher's next batch of matching events, until ctx ends
// or stop fires (then it returns nil events and a nil error for stop, ctx's
// error for ctx).
func (w *watcher) next(ctx context.Context, stop <-chan struct{}) ([]*petstorev1.WatchPetsResponse, error) {
	for {
		w.h.mu.Lock()
		head, changed := w.h.next, w.h.changed
		if w.h.gaps != w.gaps {
			w.h.mu.Unlock()
			return nil, errMissed
		}
		if head-w.cursor > watchRing {
			w.h.mu.Unlock()
			return nil, errFellBehind
		}
		var out []*petstorev1.WatchPetsResponse
		for ; w.cursor < head; w.cursor++ {
			ev := w.h.ring[w.cursor%watchRing]
			if w.species == petstorev1.Species_SPECIES_UNSPECIFIED || w.species == ev.GetPet().GetSpecies() {
				out = append(out, ev)
			}
		}
		w.h.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-changed:
		case <-stop:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (h *hub) count() int { return int(h.watchers.Load()) }
