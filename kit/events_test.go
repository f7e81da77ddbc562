package kit_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/switchboardkit/switchboard/events"
	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func TestEvents_CallsKeysAndRejections(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	var mu sync.Mutex
	var got []events.Event
	sub := env.srv.Events().Subscribe(0, func(ev events.Event) {
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	})
	defer sub.Close()

	secret, key, err := env.srv.APIKeys().Create(t.Context(), "events", []string{"*"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, secret); err != nil {
		t.Fatal(err)
	}
	if err := env.srv.APIKeys().Revoke(t.Context(), key.ID); err != nil {
		t.Fatal(err)
	}
	// Revoked in this process: refused at once, not after the cache TTL.
	res, _ := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, secret)
	if res.reason != "INVALID_CREDENTIALS" {
		t.Fatalf("revoked key: %+v", res)
	}

	want := []struct {
		kind   events.Kind
		reason string
		keyID  string
	}{
		{events.KeyCreated, "", key.ID},
		{events.CallFinished, "", key.ID},
		{events.KeyRevoked, "", key.ID},
		{events.KeyRejected, "INVALID_CREDENTIALS", key.ID},
		{events.CallFinished, "", ""}, // refused: no principal
	}
	kittest.WaitFor(t, fmt.Sprintf("%d events", len(want)), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Kind != w.kind || got[i].Reason != w.reason || got[i].KeyID != w.keyID {
			t.Errorf("event %d = %s %q key %q, want %s %q key %q", i, got[i].Kind, got[i].Reason, got[i].KeyID, w.kind, w.reason, w.keyID)
		}
	}
	if got[1].Call == nil || got[1].Call.Code != "ok" || got[4].Call.Code != "unauthenticated" {
		t.Errorf("call events do not carry the logged record")
	}
}

func TestEvents_ASlowSubscriberNeverSlowsCalls(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	block := make(chan struct{})
	sub := env.srv.Events().Subscribe(1, func(events.Event) { <-block })
	defer sub.Close()
	defer close(block)
	for range 20 {
		if _, err := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, env.key); err != nil {
			t.Fatal(err)
		}
	}
	if sub.Dropped() == 0 {
		t.Error("a blocked subscriber with a buffer of 1 dropped nothing over 20 calls")
	}
}
