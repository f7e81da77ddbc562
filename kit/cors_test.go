package kit_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func preflight(t *testing.T, url, origin string) *http.Response {
	return preflightFor(t, "POST", url, origin)
}

func preflightFor(t *testing.T, method, url, origin string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-api-key,x-grpc-web,x-user-agent") // sorted and lowercase, as browsers send them
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp
}

func TestCORS_OnlyConfiguredOriginsGetHeaders(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) {
		c.CORSAllowedOrigins = []string{"http://app.example.test", "http://*.pets.example.test"}
	})
	url := env.run.URL + switchboardtestv1connect.EchoServicePublicEchoProcedure
	for _, tc := range []struct {
		origin  string
		allowed bool
	}{
		{"http://app.example.test", true},
		{"http://shop.pets.example.test", true},
		{"http://evil.example.test", false},
		{"http://pets.example.test.evil.test", false},
	} {
		resp := preflight(t, url, tc.origin)
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if tc.allowed {
			headers := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
			if got != tc.origin || !strings.Contains(headers, "x-api-key") || !strings.Contains(headers, "x-grpc-web") ||
				resp.Header.Get("Access-Control-Max-Age") != "7200" {
				t.Errorf("%s: preflight ACAO %q headers %q max-age %q", tc.origin, got, headers, resp.Header.Get("Access-Control-Max-Age"))
			}
		} else if got != "" || resp.Header.Get("Access-Control-Allow-Headers") != "" {
			t.Errorf("%s: a disallowed origin got CORS headers: %v", tc.origin, resp.Header)
		}
	}

	// The actual call exposes the headers gRPC-Web and the kit need.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(`{"text":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://app.example.test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	exposed := strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers"))
	if resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example.test" ||
		!strings.Contains(exposed, "grpc-status") || !strings.Contains(exposed, "x-request-id") {
		t.Errorf("actual response: ACAO %q expose %q", resp.Header.Get("Access-Control-Allow-Origin"), exposed)
	}
}

// A browser page on an allowed origin may use the REST routes' verbs.
func TestCORS_RESTVerbsAreAllowedWithRESTOn(t *testing.T) {
	for _, rest := range []bool{true, false} {
		env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) {
			c.CORSAllowedOrigins, c.REST = []string{"http://app.example.test"}, rest
		})
		for _, method := range []string{"PATCH", "DELETE", "PUT"} {
			resp := preflightFor(t, method, env.run.URL+"/v1/echo", "http://app.example.test")
			allowed := resp.Header.Get("Access-Control-Allow-Origin") == "http://app.example.test"
			if allowed != rest {
				t.Errorf("REST %v: preflight for %s allowed %v", rest, method, allowed)
			}
		}
	}
}

func TestCORS_OffByDefault(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	resp := preflight(t, env.run.URL+switchboardtestv1connect.EchoServicePublicEchoProcedure, "http://app.example.test")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS headers with no origins configured: %v", resp.Header)
	}
	cfg := kit.DefaultConfig()
	cfg.CORSAllowedOrigins, cfg.CORSAllowCredentials = []string{"*"}, true
	if cfg.Validate() == nil {
		t.Error(`origin "*" with credentials was accepted`)
	}
}
