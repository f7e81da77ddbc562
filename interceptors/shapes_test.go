package interceptors_test

// Shared fixture: the kit's default chain on a connect.Server with the echo
// service, reached in-process (fast, no sockets: these are unit tests of the
// interceptors; the wire is proven in kit's pipeline tests).

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectinprocess"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	"github.com/switchboardkit/switchboard"
	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/interceptors"
	"github.com/switchboardkit/switchboard/internal/echo"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/validate"
)

// memorySink keeps request-log records in memory.
type memorySink struct {
	mu      sync.Mutex
	records []*store.RequestLog
}

func (s *memorySink) Enqueue(rec *store.RequestLog) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, rec)
	return true
}

func (s *memorySink) Count(rec *store.RequestLog) { s.Enqueue(rec) }

func (s *memorySink) all() []*store.RequestLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// wait returns the records once there are n: a record is written when the
// server-side call ends, which can be just after the client has its answer.
func (s *memorySink) wait(t *testing.T, n int) []*store.RequestLog {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs := s.all()
		if len(recs) >= n || time.Now().After(deadline) {
			if len(recs) != n {
				t.Fatalf("%d request-log records, want %d", len(recs), n)
			}
			return recs
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// tokens authenticates "Bearer <token>" against a fixed table.
type tokens map[string]*switchboard.Principal

func (t tokens) Authenticate(_ context.Context, h *connect.Header) (*switchboard.Principal, error) {
	auth := h.Get("Authorization")
	if auth == "" {
		return nil, nil
	}
	if p, ok := t[strings.TrimPrefix(auth, "Bearer ")]; ok {
		return p, nil
	}
	return nil, interceptors.ErrInvalidCredentials
}

var testTokens = tokens{
	"admin":  {KeyID: "k-admin", Name: "admin", Scopes: []string{"*"}},
	"reader": {KeyID: "k-reader", Name: "reader", Scopes: []string{"*/PublicEcho"}},
}

type fixture struct {
	client  switchboardtestv1connect.EchoServiceClient
	handler *echo.Handler
	sink    *memorySink
}

func newFixture(t *testing.T, opts ...func(*interceptors.Chain)) *fixture {
	t.Helper()
	engine := validate.New()
	echo.Rules(engine)
	f := &fixture{handler: &echo.Handler{}, sink: &memorySink{}}
	chain := interceptors.Chain{Sink: f.sink, Authenticator: testTokens, Validator: engine}
	for _, opt := range opts {
		opt(&chain)
	}
	server := connect.NewServer(interceptors.Default(chain)...)
	switchboardtestv1connect.RegisterEchoServiceHandler(server, f.handler)
	cc := connect.NewClient(connectinprocess.New(server))
	f.client = echoClient{switchboardtestv1connect.NewEchoServiceClient(cc), cc}
	return f
}

// echoClient is the generated client plus the *connect.Client under it.
type echoClient struct {
	switchboardtestv1connect.EchoServiceClient
	cc *connect.Client
}

type rawClient interface{ raw() *connect.Client }

func (c echoClient) raw() *connect.Client { return c.cc }

// withToken returns ctx whose calls send "Authorization: Bearer token".
func withToken(ctx context.Context, token string) context.Context {
	ctx, info := connect.NewClientContext(ctx)
	if token != "" {
		info.RequestHeader().Set("Authorization", "Bearer "+token)
	}
	return ctx
}

// shape calls the echo service in one call shape with the given messages
// (unary and server streams send only the first) and reports how many
// responses arrived.
type shape struct {
	name       string
	streamType string
	call       func(ctx context.Context, c switchboardtestv1connect.EchoServiceClient, reqs []*switchboardtestv1.EchoRequest) (int, error)
	// sent and received as the server counts them for reqs of length 2.
	wantRecv, wantSent int64
}

var shapes = []shape{
	{"unary", "unary", func(ctx context.Context, c switchboardtestv1connect.EchoServiceClient, reqs []*switchboardtestv1.EchoRequest) (int, error) {
		_, err := c.Echo(ctx, reqs[0])
		return 1, err
	}, 1, 1},
	{"client stream", "client", func(ctx context.Context, c switchboardtestv1connect.EchoServiceClient, reqs []*switchboardtestv1.EchoRequest) (int, error) {
		// The raw stream rather than the generated CloseAndReceive: once the
		// server has answered early (a rejection), CloseSend reports io.EOF
		// and the RPC's status is what Receive returns.
		s, err := c.(rawClient).raw().CallClientStream(ctx, connect.Spec{
			StreamType: connect.StreamTypeClient,
			Procedure:  switchboardtestv1connect.EchoServiceCollectProcedure,
		})
		if err != nil {
			return 0, err
		}
		defer s.Close()
		for _, r := range reqs {
			if err := s.Send(r); err != nil {
				break
			}
		}
		_ = s.CloseSend()
		return 1, s.Receive(new(switchboardtestv1.EchoResponse))
	}, 2, 1},
	{"server stream", "server", func(ctx context.Context, c switchboardtestv1connect.EchoServiceClient, reqs []*switchboardtestv1.EchoRequest) (int, error) {
		req := proto.CloneOf(reqs[0])
		req.Count = 2
		// connect-go v2.0.2's CallServerStream returns the io.EOF of its
		// Send when the server rejects the call before reading the request,
		// losing the status; open the stream by hand and read the status.
		s, err := c.(rawClient).raw().CallClientStream(ctx, connect.Spec{
			StreamType: connect.StreamTypeServer,
			Procedure:  switchboardtestv1connect.EchoServiceExpandProcedure,
		})
		if err != nil {
			return 0, err
		}
		defer s.Close()
		_ = s.Send(req)
		_ = s.CloseSend()
		return drain(func() (*switchboardtestv1.EchoResponse, error) {
			res := new(switchboardtestv1.EchoResponse)
			return res, s.Receive(res)
		})
	}, 1, 2},
	{"bidi stream", "bidi", func(ctx context.Context, c switchboardtestv1connect.EchoServiceClient, reqs []*switchboardtestv1.EchoRequest) (int, error) {
		s, err := c.Chat(ctx)
		if err != nil {
			return 0, err
		}
		defer s.Close()
		go func() { // send while receiving: a bidi peer may answer each message before reading the next
			for _, r := range reqs {
				if err := s.Send(r); err != nil {
					break
				}
			}
			_ = s.CloseSend()
		}()
		return drain(s.Receive)
	}, 2, 2},
}

func drain[T any](receive func() (T, error)) (int, error) {
	n := 0
	for {
		_, err := receive()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

func msgs(texts ...string) []*switchboardtestv1.EchoRequest {
	var out []*switchboardtestv1.EchoRequest
	for _, t := range texts {
		out = append(out, &switchboardtestv1.EchoRequest{Text: t})
	}
	return out
}

// details decodes the ErrorInfo reason and BadRequest fields of err.
func details(t *testing.T, err error) (reason string, fields []string, requestID string) {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("not a connect error: %v", err)
	}
	for _, d := range cerr.Details() {
		msg, derr := connectproto.UnmarshalErrorDetail(d)
		if derr != nil {
			t.Fatalf("undecodable detail: %v", derr)
		}
		switch m := msg.(type) {
		case *errdetails.ErrorInfo:
			reason, requestID = m.GetReason(), m.GetMetadata()["request_id"]
		case *errdetails.BadRequest:
			for _, v := range m.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return reason, fields, requestID
}

func errorsAs(err error, target **connect.Error) bool { return errors.As(err, target) }
