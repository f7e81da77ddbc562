package admin

// The live tail across replicas. Each replica's finished calls reach every
// replica's WatchRequestLogs viewers through the cluster bus — but only
// while someone in the fleet is watching: a viewer announces itself on the
// bus every couple of seconds (a lease), and a replica batches its calls
// onto the bus only while a lease is live. Nobody watching costs nothing.
// The tail is best effort: a batch past maxBatch calls, or a viewer too
// slow to read, loses lines, never slowing a call.
//
// Lines travel without captured payloads: the bus is readable by anyone
// who can connect to the database, and the tail does not need them
// (GetRequestLog has them, from the table). Error details — what the client
// was told — stay.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/switchboardkit/switchboard/cluster"
	"github.com/switchboardkit/switchboard/events"
	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
)

// LeaseTopic carries live-tail viewers' leases: a replica ships its calls
// while a lease seen here is live.
const LeaseTopic = "switchboard.admin.tail"

const (
	callsTopic    = "switchboard.admin.calls"
	leaseTopic    = LeaseTopic
	leaseFor      = 6 * time.Second
	announceEvery = 2 * time.Second
	flushEvery    = 100 * time.Millisecond
	maxBatch      = 500  // calls per replica per flush
	maxLeases     = 1024 // viewers remembered: a flood of forged leases cannot grow without bound
)

// tail gathers this replica's calls while a lease is live and hands every
// replica's calls to this replica's viewers.
type tail struct {
	bus    cluster.Bus
	events *events.Bus

	mu      sync.Mutex
	leases  map[string]time.Time // viewer → lease end
	pending []*adminv1.RequestLog
	sub     *events.Subscription // this replica's calls; nil while no lease is live
	viewers map[chan *adminv1.RequestLog]struct{}
	dropped atomic.Int64 // lines lost to a full batch or a slow viewer (for tests and debugging)
}

func newTail(bus cluster.Bus, ev *events.Bus) *tail {
	return &tail{bus: bus, events: ev, leases: map[string]time.Time{}, viewers: map[chan *adminv1.RequestLog]struct{}{}}
}

// run ships calls and lets expired leases go until ctx ends.
func (t *tail) run(ctx context.Context) {
	defer t.unsubscribe()
	stopCalls := t.bus.Subscribe(callsTopic, cluster.Handler{Message: t.received})
	defer stopCalls()
	stopLeases := t.bus.Subscribe(leaseTopic, cluster.Handler{Message: func(m cluster.Message) {
		if len(m.Payload) > 0 && len(m.Payload) <= 128 {
			t.lease(string(m.Payload))
		}
	}})
	defer stopLeases()
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			t.flush(ctx)
			t.expire()
		case <-ctx.Done():
			return
		}
	}
}

// lease records a viewer's lease and, from then on, gathers this
// replica's calls. While no lease is live the tail is not subscribed to
// the calls at all: nobody watching costs a call nothing.
func (t *tail) lease(viewer string) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.leases) >= maxLeases {
		t.dropExpired(now)
	}
	if _, known := t.leases[viewer]; known || len(t.leases) < maxLeases {
		t.leases[viewer] = now.Add(leaseFor)
	}
	if t.sub == nil {
		t.sub = t.events.Subscribe(4096, t.gather)
	}
}

// expire lets leases that ended go, and stops gathering calls when none is
// left.
func (t *tail) expire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropExpired(time.Now())
	if len(t.leases) == 0 && t.sub != nil {
		t.sub.Close()
		t.sub = nil
	}
}

// dropExpired deletes leases that ended; called with t.mu held.
func (t *tail) dropExpired(now time.Time) {
	for viewer, until := range t.leases {
		if !until.After(now) {
			delete(t.leases, viewer)
		}
	}
}

func (t *tail) unsubscribe() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sub != nil {
		t.sub.Close()
		t.sub = nil
	}
}

// gather keeps one finished call for the next flush.
func (t *tail) gather(ev events.Event) {
	if ev.Kind != events.CallFinished {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) >= maxBatch {
		t.dropped.Add(1)
		return
	}
	line := logProto(ev.Call)
	line.RequestPayload, line.ResponsePayload = "", ""
	t.pending = append(t.pending, line)
}

// flush ships the calls gathered since the last flush as one message.
func (t *tail) flush(ctx context.Context) {
	t.mu.Lock()
	batch := t.pending
	t.pending = nil
	t.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	lines := make([]json.RawMessage, 0, len(batch))
	for _, l := range batch {
		if raw, err := protojson.Marshal(l); err == nil {
			lines = append(lines, raw)
		}
	}
	payload, err := json.Marshal(lines)
	if err == nil {
		err = t.bus.Publish(ctx, callsTopic, payload)
	}
	if err != nil {
		t.dropped.Add(int64(len(batch)))
	}
}

// received hands a batch from any replica to this replica's viewers.
func (t *tail) received(m cluster.Message) {
	var lines []json.RawMessage
	if json.Unmarshal(m.Payload, &lines) != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, raw := range lines {
		l := new(adminv1.RequestLog)
		if protojson.Unmarshal(raw, l) != nil {
			continue
		}
		for v := range t.viewers {
			select {
			case v <- l:
			default:
				t.dropped.Add(1)
			}
		}
	}
}

// watch registers a viewer and keeps its lease alive until ctx ends.
func (t *tail) watch(ctx context.Context) <-chan *adminv1.RequestLog {
	ch := make(chan *adminv1.RequestLog, 256)
	t.mu.Lock()
	t.viewers[ch] = struct{}{}
	t.mu.Unlock()
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	viewer := t.bus.Origin() + "/" + hex.EncodeToString(id)
	// This replica is leased before the lease goes out: whoever sees it on
	// the bus knows this replica already ships its calls.
	t.lease(viewer)
	go func() {
		defer func() {
			t.mu.Lock()
			delete(t.viewers, ch)
			t.mu.Unlock()
		}()
		tick := time.NewTicker(announceEvery)
		defer tick.Stop()
		for {
			_ = t.bus.Publish(ctx, leaseTopic, []byte(viewer))
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// matches applies a WatchRequestLogs filter to a line.
func matches(req *adminv1.WatchRequestLogsRequest, l *adminv1.RequestLog) bool {
	service, method, _ := strings.Cut(l.GetProcedure(), "/")
	return (req.GetService() == "" || req.GetService() == service) &&
		(req.GetMethod() == "" || req.GetMethod() == method) &&
		(req.GetCode() == "" || req.GetCode() == l.GetCode()) &&
		(!req.GetErrorsOnly() || l.GetCode() != "ok")
}
