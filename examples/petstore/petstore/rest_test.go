package petstore

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// restCase is one plain HTTP request, as curl would send it.
type restCase struct {
	method, path, body string
	header             map[string]string
}

// do sends c and returns the status, headers and body.
func (c restCase) do(t *testing.T, base string) (int, http.Header, []byte) {
	t.Helper()
	resp, data, err := send(t.Context(), c.method, base+c.path, []byte(c.body), c.header)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	return resp.StatusCode, resp.Header, data
}

// mustRESTError reads a REST error body, or fails the test.
func mustRESTError(t *testing.T, httpStatus int, body []byte) *restError {
	t.Helper()
	rerr, err := readRESTError(httpStatus, body)
	if err != nil {
		t.Fatal(err)
	}
	return rerr
}

// TestREST_EveryRouteIsOneLoggedCallWithItsRoute calls every REST route
// once, as curl would, and finds each call once in the request log — as a
// REST call of its method, with the route it came in on — and in the
// metrics.
func TestREST_EveryRouteIsOneLoggedCallWithItsRoute(t *testing.T) {
	env := start(t, storetest.SQLiteDSN(t), func(cfg *kit.Config) { cfg.Metrics = true })
	auth := func(id string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + env.key, "X-Request-Id": id}
	}
	anon := func(id string) map[string]string { return map[string]string{"X-Request-Id": id} }
	steps := []struct {
		id         string
		req        restCase
		wantStatus int
		wantBody   string // a fragment of the JSON answer
		procedure  string
		route      string
	}{
		{"rest-create", restCase{"POST", "/v1/pets", `{"name":"Rex","species":"SPECIES_DOG","status":"PET_STATUS_AVAILABLE","tags":["good"]}`, auth("rest-create")},
			200, `"name":"Rex"`, "CreatePet", "POST /v1/pets"},
		{"rest-get", restCase{"GET", "/v1/pets/1", "", anon("rest-get")},
			200, `"species":"SPECIES_DOG"`, "GetPet", "GET /v1/pets/{id}"},
		{"rest-list", restCase{"GET", "/v1/pets?species=SPECIES_DOG&page_size=10", "", anon("rest-list")},
			200, `"pets":[{"id":"1"`, "ListPets", "GET /v1/pets"},
		{"rest-update", restCase{"PATCH", "/v1/pets/1?update_mask=name,age_years", `{"name":"Max","ageYears":4,"tags":["ignored"]}`, auth("rest-update")},
			200, `"name":"Max", "species":"SPECIES_DOG", "ageYears":4, "tags":["good"]`, "UpdatePet", "PATCH /v1/pets/{pet.id}"},
		{"rest-delete", restCase{"DELETE", "/v1/pets/1", "", auth("rest-delete")},
			200, `{}`, "DeletePet", "DELETE /v1/pets/{id}"},
		{"rest-get-gone", restCase{"GET", "/v1/pets/1", "", anon("rest-get-gone")},
			404, `"reason":"NOT_FOUND"`, "GetPet", "GET /v1/pets/{id}"},
	}
	for _, s := range steps {
		code, header, body := s.req.do(t, env.run.URL)
		compact := strings.ReplaceAll(string(body), ", ", ",")
		if code != s.wantStatus || !strings.Contains(compact, strings.ReplaceAll(s.wantBody, ", ", ",")) {
			t.Fatalf("%s %s: HTTP %d %s, want %d with %s", s.req.method, s.req.path, code, body, s.wantStatus, s.wantBody)
		}
		if got := header.Get("X-Request-Id"); got != s.id {
			t.Errorf("%s: X-Request-Id %q, want %q", s.id, got, s.id)
		}
	}

	kittest.WaitFor(t, "the rows of the REST calls", func() bool { return env.srv.LogStats().Written >= int64(len(steps)) })
	for _, s := range steps {
		rows, err := store.ListRequestLogs(t.Context(), env.srv.ReadDB(), store.LogFilter{RequestID: s.id}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Errorf("%s: %d request-log rows, want exactly 1", s.id, len(rows))
			continue
		}
		r := rows[0]
		method, route, _ := strings.Cut(s.route, " ")
		if r.Protocol != "rest" || r.HTTPMethod != method || r.HTTPRoute != route || r.Method != s.procedure {
			t.Errorf("%s: row protocol %q, %q %q, method %q; want rest, %s, %s", s.id, r.Protocol, r.HTTPMethod, r.HTTPRoute, r.Method, s.route, s.procedure)
		}
		if authed := s.req.header["Authorization"] != ""; authed != (r.KeyID != "") {
			t.Errorf("%s: row key id %q, sent a key: %v", s.id, r.KeyID, authed)
		}
	}

	metrics := restCase{method: "GET", path: "/metrics"}
	_, _, text := metrics.do(t, env.run.URL)
	for _, want := range []string{
		`switchboard_rpc_requests_total{code="ok",procedure="petstore.v1.PetStoreService/GetPet",protocol="rest"} 1`,
		`switchboard_rpc_requests_total{code="not_found",procedure="petstore.v1.PetStoreService/GetPet",protocol="rest"} 1`,
		`switchboard_rpc_requests_total{code="ok",procedure="petstore.v1.PetStoreService/UpdatePet",protocol="rest"} 1`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestREST_RefusalsAreGoogleRPCStatusWithTheKitsDetails checks what a REST
// user gets back when a call fails: the HTTP status of the code and a
// google.rpc.Status body with the same details the kit sends over Connect.
func TestREST_RefusalsAreGoogleRPCStatusWithTheKitsDetails(t *testing.T) {
	env := start(t, storetest.SQLiteDSN(t), nil)
	bearer := map[string]string{"Authorization": "Bearer " + env.key}
	for _, tc := range []struct {
		name       string
		req        restCase
		wantStatus int
		wantReason string   // ErrorInfo.reason
		wantFields []string // BadRequest field violations
	}{
		{"invalid pet", restCase{"POST", "/v1/pets", `{"name":"","ageYears":101}`, bearer},
			400, "VALIDATION_FAILED", []string{"pet.age_years", "pet.name", "pet.species", "pet.status"}},
		{"enum name the enum lacks, in the body", restCase{"POST", "/v1/pets", `{"name":"Rex","species":"SPECIES_DRAGON","status":"PET_STATUS_AVAILABLE"}`, bearer},
			400, "VALIDATION_FAILED", []string{"pet.species"}},
		{"enum name the enum lacks, in the query", restCase{"GET", "/v1/pets?species=SPECIES_DRAGON", "", nil},
			400, "INVALID_REST_REQUEST", []string{"species"}},
		{"not a number in the path", restCase{"GET", "/v1/pets/rex", "", nil}, 400, "INVALID_REST_REQUEST", []string{"id"}},
		{"not JSON", restCase{"POST", "/v1/pets", `{"name":`, bearer}, 400, "INVALID_REST_REQUEST", nil},
		{"no key", restCase{"POST", "/v1/pets", `{"name":"Rex"}`, nil}, 401, "MISSING_CREDENTIALS", nil},
		{"a key that does not exist", restCase{"DELETE", "/v1/pets/1", "", map[string]string{"Authorization": "Bearer sb_nosuchkey_secret"}},
			401, "INVALID_CREDENTIALS", nil},
		{"key scoped elsewhere", restCase{"DELETE", "/v1/pets/1", "", map[string]string{"X-Api-Key": kittestKey(t, env, "*/ListPets")}},
			403, "MISSING_SCOPE", nil},
		{"missing pet", restCase{"GET", "/v1/pets/424242", "", nil}, 404, "NOT_FOUND", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := tc.req.do(t, env.run.URL)
			rerr := mustRESTError(t, code, body)
			st := rerr.status
			if code != tc.wantStatus || restHTTPStatus[connect.Code(st.GetCode())] != code {
				t.Errorf("HTTP %d with code %s, want HTTP %d", code, connect.Code(st.GetCode()), tc.wantStatus)
			}
			reason, requestID, fields, _ := rerr.summary()
			slices.Sort(fields)
			if reason != tc.wantReason || !slices.Equal(fields, tc.wantFields) {
				t.Errorf("reason %q, fields %v; want %q, %v (body %s)", reason, fields, tc.wantReason, tc.wantFields, body)
			}
			if st.GetMessage() == "" {
				t.Error("no message")
			}
			if refusedBeforeTheCall := tc.wantReason == "INVALID_REST_REQUEST" || strings.Contains(tc.name, "enum name"); refusedBeforeTheCall != (requestID == "") {
				t.Errorf("request id %q: an error from the call has one, a refusal before it none", requestID)
			}
		})
	}
}

// TestREST_OnlyRoutesAreTranscoded: the Connect, gRPC and other paths of
// the server are not the transcoder's, and a path or method no route
// declares is not found.
func TestREST_OnlyRoutesAreTranscoded(t *testing.T) {
	env := start(t, storetest.SQLiteDSN(t), nil)
	for _, tc := range []struct {
		req        restCase
		wantStatus int
	}{
		{restCase{method: "GET", path: "/v1/nothing"}, 404},
		{restCase{method: "PUT", path: "/v1/pets/1", body: `{}`}, 404},
		{restCase{method: "GET", path: "/healthz"}, 200},
		{restCase{method: "POST", path: "/petstore.v1.PetStoreService/ListPets", body: `{}`}, 200},
	} {
		if code, _, body := tc.req.do(t, env.run.URL); code != tc.wantStatus {
			t.Errorf("%s %s: HTTP %d %s, want %d", tc.req.method, tc.req.path, code, body, tc.wantStatus)
		}
	}
	// With REST off, the routes are gone and the rest is as it was.
	off := start(t, storetest.SQLiteDSN(t), func(cfg *kit.Config) { cfg.REST = false })
	if code, _, _ := (restCase{method: "GET", path: "/v1/pets"}).do(t, off.run.URL); code != 404 {
		t.Errorf("GET /v1/pets with -rest=false: HTTP %d, want 404", code)
	}
	if code, _, _ := (restCase{method: "POST", path: "/petstore.v1.PetStoreService/ListPets", body: `{}`}).do(t, off.run.URL); code != 200 {
		t.Errorf("Connect with -rest=false: HTTP %d, want 200", code)
	}
}

// TestREST_DeadlinesAndTheFailureLimit: the two error rows a REST client
// reaches through headers — a deadline it sets (X-Server-Timeout) and the
// auth failure limit — answer as on every other protocol.
func TestREST_DeadlinesAndTheFailureLimit(t *testing.T) {
	env := start(t, storetest.SQLiteDSN(t), func(cfg *kit.Config) { cfg.Auth.FailureLimit = 2 })
	check := func(name string, req restCase, wantStatus int, wantReason string, wantRetry bool) {
		t.Helper()
		code, _, body := req.do(t, env.run.URL)
		reason, _, _, retry := mustRESTError(t, code, body).summary()
		if code != wantStatus || reason != wantReason || retry != wantRetry {
			t.Errorf("%s: HTTP %d %q retry=%v, want %d %q retry=%v (%s)", name, code, reason, retry, wantStatus, wantReason, wantRetry, body)
		}
	}
	check("a deadline already past", restCase{"GET", "/v1/pets", "", map[string]string{"X-Server-Timeout": "0.000001"}},
		504, "DEADLINE_EXCEEDED", false)
	bad := map[string]string{"Authorization": "Bearer sb_nosuchkey_secret"}
	check("bad key 1", restCase{"DELETE", "/v1/pets/1", "", bad}, 401, "INVALID_CREDENTIALS", false)
	check("bad key 2", restCase{"DELETE", "/v1/pets/1", "", bad}, 401, "INVALID_CREDENTIALS", false)
	check("past the failure limit", restCase{"DELETE", "/v1/pets/1", "", bad}, 429, "TOO_MANY_FAILED_ATTEMPTS", true)
}

// TestREST_RequestsThatAreNotExactlyACallAreRefusedWhole: what the REST
// layer cannot turn into exactly the call the client asked for is refused
// before the call — the handler never runs on a partial or different
// request, and the answer is a google.rpc.Status naming what is wrong.
func TestREST_RequestsThatAreNotExactlyACallAreRefusedWhole(t *testing.T) {
	env := start(t, storetest.SQLiteDSN(t), nil)
	bearer := map[string]string{"Authorization": "Bearer " + env.key}
	create := restCase{"POST", "/v1/pets", `{"name":"Keep","species":"SPECIES_DOG","status":"PET_STATUS_AVAILABLE"}`, bearer}
	for range 3 {
		if code, _, body := create.do(t, env.run.URL); code != 200 {
			t.Fatalf("create: %d %s", code, body)
		}
	}
	kittest.WaitFor(t, "the creates' rows", func() bool { return env.srv.LogStats().Written >= 3 })
	gzipped := map[string]string{"Authorization": "Bearer " + env.key, "Content-Encoding": "gzip"}
	text := map[string]string{"Authorization": "Bearer " + env.key, "Content-Type": "text/plain"}
	for _, tc := range []struct {
		name       string
		req        restCase
		wantStatus int
		wantField  string
	}{
		{"a query parameter naming the path's field", restCase{"DELETE", "/v1/pets/1?id=3", "", bearer}, 400, "id"},
		{"… in its JSON name under the body", restCase{"PATCH", "/v1/pets/1?pet.id=3", `{"name":"X"}`, bearer}, 400, "pet.id"},
		{"a query parameter naming a body field", restCase{"POST", "/v1/pets?pet.name=Q", `{}`, bearer}, 400, "pet.name"},
		{"a query parameter that is no field", restCase{"GET", "/v1/pets?specie=SPECIES_DOG", "", nil}, 400, "specie"},
		{"a single-valued field given twice", restCase{"GET", "/v1/pets?page_size=1&page_size=2", "", nil}, 400, "page_size"},
		{"a body where the route takes none", restCase{"DELETE", "/v1/pets/2", `{"id":"3"}`, bearer}, 400, ""},
		{"a compressed body", restCase{"POST", "/v1/pets", `{}`, gzipped}, 415, ""},
		{"a body that is not JSON by its type", restCase{"POST", "/v1/pets", `{}`, text}, 415, ""},
		{"a timeout that is not seconds", restCase{"GET", "/v1/pets", "", map[string]string{"X-Server-Timeout": "soon"}}, 400, ""},
		{"a FieldMask path that is no name", restCase{"PATCH", "/v1/pets/2?update_mask=Name", `{"name":"X"}`, bearer}, 400, "update_mask"},
		{"a body over the limit", restCase{"POST", "/v1/pets", `{"name":"` + strings.Repeat("x", 5<<20) + `"}`, bearer}, 429, ""},
		{"an integer written as a float", restCase{"DELETE", "/v1/pets/1e0", "", bearer}, 400, "id"},
		{"one field under two names", restCase{"GET", "/v1/pets?page_size=1&pageSize=2", "", nil}, 400, "page_size"},
		{"a query that does not parse", restCase{"GET", "/v1/pets?species=SPECIES_CAT;", "", nil}, 400, ""},
		{"an empty path segment", restCase{"GET", "/v1/pets/", "", nil}, 400, "id"},
		{"a '%' in a path value", restCase{"GET", "/v1/pets/%2532", "", nil}, 400, "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := tc.req.do(t, env.run.URL)
			var field string
			if _, _, fields, _ := mustRESTError(t, code, body).summary(); len(fields) > 0 {
				field = fields[0]
			}
			if code != tc.wantStatus || field != tc.wantField {
				t.Errorf("HTTP %d, field %q; want %d, %q (%.300s)", code, field, tc.wantStatus, tc.wantField, body)
			}
		})
	}
	// A body the transcoder refuses while the handler reads it (an enum name
	// its enum lacks, in an update whose request would otherwise be empty)
	// fails the call; the handler does not run on an empty request.
	dragon := restCase{"PATCH", "/v1/pets/2?update_mask=name", `{"name":"Changed","species":"SPECIES_DRAGON"}`,
		map[string]string{"Authorization": "Bearer " + env.key, "X-Request-Id": "dragon-update"}}
	if code, _, body := dragon.do(t, env.run.URL); code != 400 || !strings.Contains(string(body), `"pet.species"`) {
		t.Errorf("update with an unknown enum name: %d %s", code, body)
	}
	// JSON's Content-Type however it is written.
	for _, ct := range []string{"application/json;charset=utf-8", "Application/JSON", "application/json; charset=UTF-8"} {
		req := restCase{"GET", "/v1/pets/3", "", map[string]string{"Content-Type": ct}}
		if code, _, body := req.do(t, env.run.URL); code != 200 {
			t.Errorf("Content-Type %q on a GET: %d %s", ct, code, body)
		}
	}
	// Nothing ran: every pet is as it was, and no call was logged but the
	// one whose body went over the limit — a body is read during the call,
	// after authentication, and fails it as RESOURCE_EXHAUSTED, as on Connect.
	for id, want := range map[string]string{"1": "Keep", "2": "Keep", "3": "Keep"} {
		if code, _, body := (restCase{method: "GET", path: "/v1/pets/" + id}).do(t, env.run.URL); code != 200 || !strings.Contains(string(body), want) {
			t.Errorf("pet %s after the refusals: %d %s", id, code, body)
		}
	}
	kittest.WaitFor(t, "the gets' rows", func() bool { return env.srv.LogStats().Written >= 11 })
	if st := env.srv.LogStats(); st.Written != 11 {
		t.Errorf("%d calls logged; want the 3 creates, the body over the limit, the refused update, the 3 GETs with a Content-Type and the 3 gets", st.Written)
	}
	if row, err := store.FindRequestLog(t.Context(), env.srv.ReadDB(), "dragon-update"); err != nil ||
		row.Code != "invalid_argument" || !strings.Contains(row.ErrorMessage, "refused") {
		t.Errorf("the refused update's row: %+v %v", row, err)
	}
	rows, err := store.ListRequestLogs(t.Context(), env.srv.ReadDB(), store.LogFilter{Code: "resource_exhausted"}, 10)
	if err != nil || len(rows) != 1 || rows[0].Method != "CreatePet" {
		t.Errorf("the call over the limit: %v %v", rows, err)
	}
}
