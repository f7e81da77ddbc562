package events_test

import (
	"sync"
	"testing"
	"testing/synctest"

	"github.com/switchboardkit/switchboard/events"
	"github.com/switchboardkit/switchboard/store"
)

func TestBus_DeliversInOrderAndCountsWhatASlowSubscriberLoses(t *testing.T) {
	synctest.Test(t, testBus)
}

func testBus(t *testing.T) {
	bus := events.New()
	var mu sync.Mutex
	var got []string
	fast := bus.Subscribe(16, func(ev events.Event) {
		mu.Lock()
		got = append(got, ev.KeyID)
		mu.Unlock()
	})
	block := make(chan struct{})
	slow := bus.Subscribe(1, func(events.Event) { <-block })
	if bus.Subscribers() != 2 {
		t.Fatalf("%d subscribers, want 2", bus.Subscribers())
	}
	bus.Publish(events.Event{Kind: events.KeyCreated, KeyID: "a"})
	synctest.Wait() // the slow subscriber now holds "a"
	for _, id := range []string{"b", "c", "d"} {
		bus.Publish(events.Event{Kind: events.KeyCreated, KeyID: id})
	}
	bus.Record(&store.RequestLog{KeyID: "e", Procedure: "p.v1.S/M"}, false)
	synctest.Wait()
	mu.Lock()
	if want := "abcde"; concat(got) != want {
		t.Errorf("delivered %v, want %s in order", got, want)
	}
	mu.Unlock()
	// The slow one holds "a" and buffers "b": three of five are lost.
	if slow.Dropped() != 3 || fast.Dropped() != 0 {
		t.Errorf("dropped slow %d fast %d, want 3 and 0", slow.Dropped(), fast.Dropped())
	}
	close(block)
	slow.Close()
	fast.Close()
	fast.Close() // idempotent
	if bus.Subscribers() != 0 {
		t.Errorf("%d subscribers after Close", bus.Subscribers())
	}
	var none *events.Bus
	none.Publish(events.Event{Kind: events.KeyRevoked}) // a nil bus drops events
}

func concat(ss []string) (out string) {
	for _, s := range ss {
		out += s
	}
	return out
}
