package petstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
)

func TestHub_EveryWatcherSeesEveryMatchingEventInOrder(t *testing.T) {
	h := newHub()
	ctx := t.Context()
	const watchers, events = 40, 300
	var wg sync.WaitGroup
	got := make([][]int64, watchers)
	for i := range watchers {
		species := petstorev1.Species_SPECIES_UNSPECIFIED
		if i%2 == 1 {
			species = petstorev1.Species_SPECIES_CAT
		}
		w, stop := h.watch(species)
		wg.Go(func() {
			defer stop()
			want := events
			if species == petstorev1.Species_SPECIES_CAT {
				want = events / 3
			}
			for len(got[i]) < want {
				evs, err := w.next(ctx, nil)
				if err != nil {
					t.Errorf("watcher %d: %v", i, err)
					return
				}
				for _, ev := range evs {
					if species != petstorev1.Species_SPECIES_UNSPECIFIED && ev.GetPet().GetSpecies() != species {
						t.Errorf("watcher %d got a %v", i, ev.GetPet().GetSpecies())
					}
					got[i] = append(got[i], ev.GetPet().GetId())
				}
			}
		})
	}
	for id := range int64(events) {
		species := []petstorev1.Species{petstorev1.Species_SPECIES_DOG, petstorev1.Species_SPECIES_CAT, petstorev1.Species_SPECIES_BIRD}[id%3]
		h.publish(petstorev1.EventType_EVENT_TYPE_CREATED, &petstorev1.Pet{Id: id, Species: species})
	}
	wg.Wait()
	for i, ids := range got {
		for j := 1; j < len(ids); j++ {
			if ids[j] <= ids[j-1] {
				t.Fatalf("watcher %d: events out of order: %v", i, ids)
			}
		}
	}
}

func TestHub_AWatcherThatFallsBehindIsCutOffNotTheWriter(t *testing.T) {
	h := newHub()
	w, stop := h.watch(petstorev1.Species_SPECIES_UNSPECIFIED)
	defer stop()
	for id := range int64(watchRing + 1) { // the writer never waits
		h.publish(petstorev1.EventType_EVENT_TYPE_CREATED, &petstorev1.Pet{Id: id})
	}
	if _, err := w.next(t.Context(), nil); !errors.Is(err, errFellBehind) {
		t.Fatalf("next after %d unread events: %v, want errFellBehind", watchRing+1, err)
	}
	// One that keeps up is not cut off.
	w2, stop2 := h.watch(petstorev1.Species_SPECIES_UNSPECIFIED)
	defer stop2()
	h.publish(petstorev1.EventType_EVENT_TYPE_CREATED, &petstorev1.Pet{Id: 1})
	if evs, err := w2.next(t.Context(), nil); err != nil || len(evs) != 1 {
		t.Fatalf("next: %v %v", evs, err)
	}
}

func TestHub_NextEndsOnStopAndOnContext(t *testing.T) {
	h := newHub()
	w, done := h.watch(petstorev1.Species_SPECIES_UNSPECIFIED)
	defer done()
	stop := make(chan struct{})
	close(stop)
	if evs, err := w.next(t.Context(), stop); evs != nil || err != nil {
		t.Errorf("on stop: %v %v, want nothing", evs, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := w.next(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("on a cancelled context: %v", err)
	}
}

// BenchmarkHubPublish is the writer's cost of one event with 0, 100 and 2000
// watchers waiting: it should not grow with them (compare the three as
// ratios in one run).
func BenchmarkHubPublish(b *testing.B) {
	for _, n := range []int{0, 100, 2000} {
		b.Run(fmt.Sprintf("watchers=%d", n), func(b *testing.B) {
			h := newHub()
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for range n {
				w, stop := h.watch(petstorev1.Species_SPECIES_UNSPECIFIED)
				wg.Go(func() {
					defer stop()
					for {
						if _, err := w.next(ctx, nil); err != nil && !errors.Is(err, errFellBehind) {
							return
						} else if err != nil {
							h.mu.Lock()
							w.cursor = h.next // benchmark only: skip ahead rather than end
							h.mu.Unlock()
						}
					}
				})
			}
			pet := &petstorev1.Pet{Id: 1, Name: "Rex"}
			b.ReportAllocs()
			for b.Loop() {
				h.publish(petstorev1.EventType_EVENT_TYPE_CREATED, pet)
			}
			b.StopTimer()
			cancel()
			h.wake()
			wg.Wait()
		})
	}
}
