package kit_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func TestAuth_KeysScopesAndPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		env := startEcho(t, dsn, func(c *kit.Config) { c.APIKeys.CacheTTL = time.Millisecond })
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

func TestAuth_FailureLimitCountsTheClientBehindATrustedProxy(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) {
		c.Auth.FailureLimit = 2
		c.TrustedProxies = prefixes("127.0.0.0/8")
	})
	call := func(forwardedFor string) connect.Code {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost,
			env.run.URL+switchboardtestv1connect.EchoServiceEchoProcedure, strings.NewReader(`{"text":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer sb_bad_key")
		req.Header.Set("X-Forwarded-For", forwardedFor)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			Code connect.Code `json:"code"`
		}
		_ = json.NewDecoder(res.Body).Decode(&body)
		return body.Code
	}
	for range 2 {
		call("203.0.113.7")
	}
	if got := call("203.0.113.7"); got != connect.CodeResourceExhausted {
		t.Errorf("client over its limit: %v", got)
	}
	if got := call("203.0.113.8"); got != connect.CodeUnauthenticated {
		t.Errorf("another client behind the same proxy: %v, want its own count", got)
	}
	// IPv6 clients are counted by /64: rotating the low bits does not help.
	for i := range 2 {
		call(fmt.Sprintf("2001:db8::%d", i+1))
	}
	if got := call("2001:db8::ffff"); got != connect.CodeResourceExhausted {
		t.Errorf("same /64: %v, want resource_exhausted", got)
	}
}
