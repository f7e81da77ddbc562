package kit_test

import (
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/kit/store"
	"github.com/switchboardkit/switchboard/kit/store/storetest"
)

func TestAuth_KeysScopesAndPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		env := startEcho(t, dsn, func(c *kit.Config) { c.APIKeyCacheTTL = time.Millisecond })
		ctx := t.Context()
		db := env.srv.DB()
		reader := kittest.APIKey(t, env.srv, "reader", "*/PublicEcho")
		revoked := kittest.APIKey(t, env.srv, "revoked", "*")
		revokedID, _, _ := store.ParseAPIKey(revoked)
		if err := store.RevokeAPIKey(ctx, db, revokedID, time.Now()); err != nil {
			t.Fatal(err)
		}
		expSecret, expKey, err := store.NewAPIKey("expired", []string{"*"}, time.Millisecond, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := store.CreateAPIKey(ctx, db, expKey); err != nil {
			t.Fatal(err)
		}
		wrong := env.key[:len(env.key)-4] + "aaaa"

		protected := switchboardtestv1connect.EchoServiceEchoProcedure
		public := switchboardtestv1connect.EchoServicePublicEchoProcedure
		for _, tc := range []struct {
			name      string
			procedure string
			key       string
			want      connect.Code
			reason    string
		}{
			{"valid key", protected, env.key, 0, ""},
			{"no key, protected", protected, "", connect.CodeUnauthenticated, "MISSING_CREDENTIALS"},
			{"wrong secret", protected, wrong, connect.CodeUnauthenticated, "INVALID_CREDENTIALS"},
			{"not a key", protected, "hunter2", connect.CodeUnauthenticated, "INVALID_CREDENTIALS"},
			{"revoked", protected, revoked, connect.CodeUnauthenticated, "INVALID_CREDENTIALS"},
			{"expired", protected, expSecret, connect.CodeUnauthenticated, "INVALID_CREDENTIALS"},
			{"no scope", protected, reader, connect.CodePermissionDenied, "MISSING_SCOPE"},
			{"public, no key", public, "", 0, ""},
			{"public, scoped key", public, reader, 0, ""},
			{"public, bad key", public, wrong, connect.CodeUnauthenticated, "INVALID_CREDENTIALS"},
		} {
			got, err := env.postJSON(t, tc.procedure, &switchboardtestv1.EchoRequest{Text: "hi"}, tc.key)
			if (err == nil) != (tc.want == 0) || got.code != tc.want || got.reason != tc.reason {
				t.Errorf("%s: %v %q (%v), want %v %q", tc.name, got.code, got.reason, err, tc.want, tc.reason)
			}
		}
	})
}

func TestAuth_APIKeyHeaderAndPrincipalReachTheHandler(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	id, _, _ := store.ParseAPIKey(env.key)
	client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.H2CClient(), env.run.URL)))
	ctx, info := connect.NewClientContext(t.Context())
	info.RequestHeader().Set("X-Api-Key", env.key)
	res, err := client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "hi"})
	if err != nil {
		t.Fatalf("x-api-key: %v", err)
	}
	if res.GetPrincipal() != id {
		t.Errorf("handler saw principal %q, want %q", res.GetPrincipal(), id)
	}

	// last_used_at is written in batches, not on the call's path.
	key, err := store.FindAPIKey(t.Context(), env.srv.DB(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !key.LastUsedAt.IsZero() {
		t.Errorf("last_used_at written on the call's path: %v", key.LastUsedAt)
	}
	env.srv.APIKeys().Flush(t.Context())
	key, err = store.FindAPIKey(t.Context(), env.srv.DB(), id)
	if err != nil || key.LastUsedAt.IsZero() {
		t.Errorf("after a flush last_used_at = %v, %v; want set", key.LastUsedAt, err)
	}
}

func TestAuth_RepeatedFailuresFromOnePeerAreRateLimited(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) {
		c.AuthFailureLimit = 3
		c.AuthFailureWindow = time.Minute
	})
	for i := range 3 {
		got, _ := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, "sb_bad_key")
		if got.code != connect.CodeUnauthenticated {
			t.Fatalf("attempt %d: %v, want unauthenticated", i+1, got.code)
		}
	}
	got, _ := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, env.key)
	if got.code != connect.CodeResourceExhausted || !got.retry || got.reason != "TOO_MANY_FAILED_ATTEMPTS" {
		t.Errorf("after 3 failures: %v %q retry=%v; want resource_exhausted with RetryInfo", got.code, got.reason, got.retry)
	}
}
