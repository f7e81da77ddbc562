package kit_test

// The interceptor pipeline over real HTTP on loopback, seen by the three kinds
// of clients: gRPC-Go, a Connect client, and a plain JSON POST as curl sends.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/interceptors/errmap"
	"github.com/switchboardkit/switchboard/internal/echo"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

type echoEnv struct {
	srv     *kit.Server
	run     *kittest.Running
	handler *echo.Handler
	key     string // scope "*"
}

func startEcho(t *testing.T, dsn string, mutates ...func(*kit.Config)) *echoEnv {
	t.Helper()
	cfg := kittest.Config(dsn)
	cfg.Logger = kittest.Logger(t)
	for _, mutate := range mutates {
		if mutate != nil {
			mutate(&cfg)
		}
	}
	srv, err := kit.New(cfg)
	if err != nil {
		t.Fatalf("kit.New: %v", err)
	}
	h := &echo.Handler{DB: srv.DB()}
	switchboardtestv1connect.RegisterEchoServiceHandler(srv.RPC(), h)
	key := kittest.APIKey(t, srv, "tests", "*")
	return &echoEnv{srv: srv, handler: h, key: key, run: kittest.Start(t, srv)}
}

// callResult is what one client saw of a failed call.
type callResult struct {
	code      connect.Code
	message   string
	reason    string
	requestID string
	fields    []string
	retry     bool
	help      bool // a google.rpc.Help detail came along
}

type echoCaller func(t *testing.T, req *switchboardtestv1.EchoRequest) (callResult, error)

func (e *echoEnv) callers(t *testing.T) map[string]echoCaller {
	conn, err := grpc.NewClient(e.run.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(kittest.Bearer(e.key)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	connectClient := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), e.key), e.run.URL)))

	return map[string]echoCaller{
		"grpc-go": func(t *testing.T, req *switchboardtestv1.EchoRequest) (callResult, error) {
			err := conn.Invoke(t.Context(), switchboardtestv1connect.EchoServiceEchoProcedure, req, new(switchboardtestv1.EchoResponse))
			if err == nil {
				return callResult{}, nil
			}
			st := status.Convert(err)
			r := callResult{code: connect.Code(st.Code()), message: st.Message()}
			for _, d := range st.Details() {
				r.addDetail(d.(proto.Message))
			}
			return r, err
		},
		"connect-h2": func(t *testing.T, req *switchboardtestv1.EchoRequest) (callResult, error) {
			_, err := connectClient.Echo(t.Context(), req)
			if err == nil {
				return callResult{}, nil
			}
			var cerr *connect.Error
			if !errors.As(err, &cerr) {
				return callResult{}, err
			}
			r := callResult{code: cerr.Code(), message: cerr.Message()}
			for _, d := range cerr.Details() {
				msg, derr := connectproto.UnmarshalErrorDetail(d)
				if derr != nil {
					t.Fatalf("undecodable detail: %v", derr)
				}
				r.addDetail(msg)
			}
			return r, err
		},
		"json-post": func(t *testing.T, req *switchboardtestv1.EchoRequest) (callResult, error) {
			return e.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, req, e.key)
		},
		"rest": e.postREST, // POST /v1/echo: the same call on its REST route
	}
}

func (r *callResult) addDetail(msg proto.Message) {
	switch m := msg.(type) {
	case *errdetails.ErrorInfo:
		r.reason, r.requestID = m.GetReason(), m.GetMetadata()["request_id"]
	case *errdetails.BadRequest:
		for _, v := range m.GetFieldViolations() {
			r.fields = append(r.fields, v.GetField())
		}
	case *errdetails.RetryInfo:
		r.retry = true
	case *errdetails.Help:
		r.help = true
	}
}

// postJSON sends the request as curl would and reads a Connect error body,
// using the JSON "debug" form of each detail (no protobuf needed).
func (e *echoEnv) postJSON(t *testing.T, procedure string, req proto.Message, key string) (callResult, error) {
	t.Helper()
	resp, data := e.post(t, procedure, marshalJSON(t, req), key)
	if resp.StatusCode == http.StatusOK {
		return callResult{}, nil
	}
	var out struct {
		Code    connect.Code `json:"code"`
		Message string       `json:"message"`
		Details []struct {
			Type  string `json:"type"`
			Debug struct {
				Reason          string            `json:"reason"`
				Metadata        map[string]string `json:"metadata"`
				FieldViolations []struct {
					Field string `json:"field"`
				} `json:"fieldViolations"`
			} `json:"debug"`
		} `json:"details"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("HTTP %d body is not a Connect error: %s", resp.StatusCode, data)
	}
	r := callResult{code: out.Code, message: out.Message}
	for _, d := range out.Details {
		switch d.Type {
		case "google.rpc.ErrorInfo":
			r.reason, r.requestID = d.Debug.Reason, d.Debug.Metadata["request_id"]
			if h := resp.Header.Get("X-Request-Id"); r.requestID != "" && h != r.requestID {
				t.Errorf("X-Request-Id %q differs from ErrorInfo request_id %q", h, r.requestID)
			}
		case "google.rpc.BadRequest":
			for _, v := range d.Debug.FieldViolations {
				r.fields = append(r.fields, v.Field)
			}
		case "google.rpc.RetryInfo":
			r.retry = true
		case "google.rpc.Help":
			r.help = true
		}
	}
	return r, fmt.Errorf("%s: %s", out.Code, out.Message)
}

func TestErrors_EveryRowOfTheTableOverEveryProtocol(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	rows := []struct {
		fail, text string
		code       connect.Code
		reason     string
		message    string // "" = any message without secrets
		fields     []string
		retry      bool
	}{
		{"", "", connect.CodeInvalidArgument, "VALIDATION_FAILED", "", []string{"text"}, false},
		{"validation", "x", connect.CodeInvalidArgument, "VALIDATION_FAILED", "", []string{"widget.size"}, false},
		{"not_found", "x", connect.CodeNotFound, "NOT_FOUND", "not found", nil, false},
		{"no_rows", "x", connect.CodeNotFound, "NOT_FOUND", "not found", nil, false},
		{"already_exists", "x", connect.CodeAlreadyExists, "ALREADY_EXISTS", "already exists", nil, false},
		{"unique", "x", connect.CodeAlreadyExists, "ALREADY_EXISTS", "already exists", nil, false},
		{"permission_denied", "x", connect.CodePermissionDenied, "PERMISSION_DENIED", "permission denied", nil, false},
		{"unsupported", "x", connect.CodeUnimplemented, "NOT_IMPLEMENTED", "not implemented", nil, false},
		{"not_implemented", "x", connect.CodeUnimplemented, "NOT_IMPLEMENTED", "not implemented", nil, false},
		{"deadline", "x", connect.CodeDeadlineExceeded, "DEADLINE_EXCEEDED", "deadline exceeded", nil, false},
		{"canceled", "x", connect.CodeCanceled, "CANCELED", "canceled", nil, false},
		{"unavailable", "x", connect.CodeUnavailable, "DATABASE_UNAVAILABLE", "", nil, true},
		{"panic", "x", connect.CodeInternal, "PANIC", "internal error", nil, false},
		{"boom", "x", connect.CodeInternal, "INTERNAL", "internal error", nil, false},
		{"remote", "x", connect.CodeInternal, "INTERNAL", "internal error", nil, false},
		{"connect", "x", connect.CodeFailedPrecondition, "FAILED_PRECONDITION", "authored message", nil, false},
		{"connect_detail", "x", connect.CodeFailedPrecondition, "FAILED_PRECONDITION", "authored message", nil, false},
		{"connect_errorinfo", "x", connect.CodeFailedPrecondition, "OWN_REASON", "authored message", nil, false},
		{"status", "x", connect.CodeFailedPrecondition, "QUOTA_EXCEEDED", "widget quota exceeded", nil, false},
	}
	for name, call := range env.callers(t) {
		t.Run(name, func(t *testing.T) {
			for _, row := range rows {
				got, err := call(t, &switchboardtestv1.EchoRequest{Text: row.text, Fail: row.fail})
				if err == nil {
					t.Errorf("fail=%q: call succeeded", row.fail)
					continue
				}
				if got.code != row.code || got.reason != row.reason || !slices.Equal(got.fields, row.fields) || got.retry != row.retry {
					t.Errorf("fail=%q: %v %q fields=%v retry=%v; want %v %q fields=%v retry=%v",
						row.fail, got.code, got.reason, got.fields, got.retry, row.code, row.reason, row.fields, row.retry)
				}
				if row.message != "" && got.message != row.message {
					t.Errorf("fail=%q: message %q, want %q", row.fail, got.message, row.message)
				}
				if strings.Contains(got.message, "secret") || strings.Contains(got.message, "sql") {
					t.Errorf("fail=%q: cause leaked: %q", row.fail, got.message)
				}
				if got.help != (row.fail == "connect_detail") {
					t.Errorf("fail=%q: the handler's own Help detail: %v", row.fail, got.help)
				}
				if row.fail != "connect_errorinfo" && len(got.requestID) == 0 {
					t.Errorf("fail=%q: no ErrorInfo with the request_id", row.fail)
				}
			}
		})
	}
}

func TestAuth_CheckedBeforeTheBodyIsRead(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	for _, body := range []string{"{not json", "\x00\x01\x02garbage"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
			env.run.URL+switchboardtestv1connect.EchoServiceEchoProcedure, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if !strings.Contains(string(data), `"code":"unauthenticated"`) {
			t.Errorf("garbage body without a key: %d %s, want unauthenticated (not a decode error)", resp.StatusCode, data)
		}
	}
	// With a key, the same garbage is a decode error: proof the body was
	// not looked at before.
	// It carries an ErrorInfo with the request id, like every error.
	res, _ := env.postRaw(t, "{not json", env.key)
	if !strings.Contains(res, `"code":"invalid_argument"`) || !strings.Contains(res, `"reason":"INVALID_ARGUMENT"`) ||
		!strings.Contains(res, `"request_id":"`) {
		t.Errorf("garbage body with a key: %s, want a decode error with ErrorInfo and request id", res)
	}
}

func (e *echoEnv) postRaw(t *testing.T, body, key string) (string, int) {
	resp, data := e.post(t, switchboardtestv1connect.EchoServiceEchoProcedure, []byte(body), key)
	return string(data), resp.StatusCode
}

// post sends body as JSON to path, with key as a Bearer token unless it is
// "", and returns the answer read whole.
func (e *echoEnv) post(t *testing.T, path string, body []byte, key string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.run.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func marshalJSON(t *testing.T, msg proto.Message) []byte {
	t.Helper()
	data, err := protojson.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestErrors_UserRulesComeBeforeTheDefaults(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) {
		c.Errors.Rules = append(c.Errors.Rules, errmap.Rule{
			Match:   func(err error) bool { return strings.HasSuffix(err.Error(), "out-of-stock") },
			Code:    connect.CodeFailedPrecondition,
			Reason:  "OUT_OF_STOCK",
			Message: "the item is out of stock",
		})
	})
	got, _ := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure,
		&switchboardtestv1.EchoRequest{Text: "x", Fail: "out-of-stock"}, env.key)
	if got.code != connect.CodeFailedPrecondition || got.reason != "OUT_OF_STOCK" || got.message != "the item is out of stock" {
		t.Errorf("custom rule: %+v", got)
	}
}

func TestErrors_MappedModeSendsConnectErrorsAsAuthored(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) { c.Errors.AuthoredAsIs = true })
	for name, call := range env.callers(t) {
		for fail, wantReason := range map[string]string{"connect": "", "connect_detail": "", "not_found": "NOT_FOUND", "boom": "INTERNAL"} {
			got, _ := call(t, &switchboardtestv1.EchoRequest{Text: "x", Fail: fail})
			if got.reason != wantReason || got.help != (fail == "connect_detail") {
				t.Errorf("%s fail=%q: reason %q help %v, want %q", name, fail, got.reason, got.help, wantReason)
			}
		}
	}
}

// sinkFunc makes a function a requestlog.Sink.
type sinkFunc func(*store.RequestLog)

func (f sinkFunc) Record(rec *store.RequestLog, _ bool) { f(rec) }

// observe adds fn as a sink of every finished call.
func observe(fn func(*store.RequestLog)) func(*kit.Config) {
	return func(c *kit.Config) { c.CallSinks = append(c.CallSinks, sinkFunc(fn)) }
}

func prefixes(cidrs ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(cidrs))
	for i, c := range cidrs {
		out[i] = netip.MustParsePrefix(c)
	}
	return out
}
