// Package chaintest is the shared fixture of the interceptors' unit tests:
// the kit's chain (requestid, requestlog, auth, errmap, validation, in the
// kit's order) on a connect.Server with the echo service, reached in-process
// through connectinprocess — fast, no sockets; the wire is proven in kit's
// pipeline tests — plus the four call shapes every interceptor must cover.
//
// It is for tests only and must stay out of every non-test build.
package chaintest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectinprocess"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	"github.com/switchboardkit/switchboard"
	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/interceptors/auth"
	"github.com/switchboardkit/switchboard/interceptors/errmap"
	"github.com/switchboardkit/switchboard/interceptors/requestid"
	"github.com/switchboardkit/switchboard/interceptors/requestlog"
	"github.com/switchboardkit/switchboard/interceptors/validation"
	"github.com/switchboardkit/switchboard/internal/echo"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/validate"
)

// Sink keeps request-log records in memory.
type Sink struct {
	mu      sync.Mutex
	records []*store.RequestLog
	rows    map[*store.RequestLog]bool
}

// Record keeps rec (Sink is a requestlog.Sink).
func (s *Sink) Record(rec *store.RequestLog, row bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, rec)
	if s.rows == nil {
		s.rows = map[*store.RequestLog]bool{}
	}
	s.rows[rec] = row
}

// Row reports whether rec was handed over to keep a row of its own.
func (s *Sink) Row(rec *store.RequestLog) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows[rec]
}

func (s *Sink) all() []*store.RequestLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// Wait returns the records once there are n: a record is made when the
// server-side call ends, which can be just after the client has its answer.
func (s *Sink) Wait(t testing.TB, n int) []*store.RequestLog {
	t.Helper()
	kittest.WaitFor(t, fmt.Sprintf("%d request-log records", n), func() bool { return len(s.all()) >= n })
	recs := s.all()
	if len(recs) != n {
		t.Fatalf("%d request-log records, want %d", len(recs), n)
	}
	return recs
}

// Tokens authenticates "Bearer <token>" against a fixed table.
type Tokens map[string]*switchboard.Principal

// Authenticate implements auth.Authenticator.
func (t Tokens) Authenticate(_ context.Context, h *connect.Header) (*switchboard.Principal, error) {
	header := h.Get("Authorization")
	if header == "" {
		return nil, nil
	}
	if p, ok := t[strings.TrimPrefix(header, "Bearer ")]; ok {
		return p, nil
	}
	return nil, auth.ErrInvalidCredentials
}

// TestTokens: "admin" may call everything, "reader" only PublicEcho.
var TestTokens = Tokens{
	"admin":  {KeyID: "k-admin", Name: "admin", Scopes: []string{"*"}},
	"reader": {KeyID: "k-reader", Name: "reader", Scopes: []string{"*/PublicEcho"}},
}

// Fixture is the chain in front of the echo service, and what it saw.
type Fixture struct {
	Client  switchboardtestv1connect.EchoServiceClient
	Handler *echo.Handler
	Sink    *Sink
	// Conn reaches the server, for clients of other services.
	Conn connect.Transport
}

// Chain is what the fixture's interceptors are built with.
type Chain struct {
	RequestLog requestlog.Config
	// Authenticator defaults to TestTokens.
	Authenticator auth.Authenticator
	Auth          auth.Config
	Errors        errmap.Config
	// Extra interceptors run after the chain, before the handler.
	Extra []connect.ServerInterceptor
	// Register adds services beside the echo service (health, …).
	Register func(*connect.Server)
}

// New returns the fixture; change, when set, adjusts the chain's config.
func New(t testing.TB, change func(*Chain)) *Fixture {
	t.Helper()
	engine := validate.New()
	f := &Fixture{Handler: &echo.Handler{}, Sink: &Sink{}}
	c := Chain{RequestLog: requestlog.DefaultConfig(), Authenticator: TestTokens, Auth: auth.DefaultConfig()}
	if change != nil {
		change(&c)
	}
	server := connect.NewServer(append([]connect.ServerInterceptor{
		requestid.New(),
		requestlog.New(c.RequestLog, f.Sink),
		auth.New(c.Authenticator, c.Auth),
		errmap.New(c.Errors),
		validation.New(engine),
	}, c.Extra...)...)
	switchboardtestv1connect.RegisterEchoServiceHandler(server, f.Handler)
	if c.Register != nil {
		c.Register(server)
	}
	f.Conn = connectinprocess.New(server)
	cc := connect.NewClient(f.Conn)
	f.Client = echoClient{switchboardtestv1connect.NewEchoServiceClient(cc), cc}
	return f
}

// echoClient is the generated client plus the *connect.Client under it.
type echoClient struct {
	switchboardtestv1connect.EchoServiceClient
	cc *connect.Client
}

type rawClient interface{ raw() *connect.Client }

func (c echoClient) raw() *connect.Client { return c.cc }

// WithToken returns ctx whose calls send "Authorization: Bearer token".
func WithToken(ctx context.Context, token string) context.Context {
	ctx, info := connect.NewClientContext(ctx)
	if token != "" {
		info.RequestHeader().Set("Authorization", "Bearer "+token)
	}
	return ctx
}

// Shape calls the echo service in one call shape with the given messages
// (unary and server streams send only the first) and reports how many
// responses arrived.
type Shape struct {
	Name       string
	StreamType string
	Call       func(ctx context.Context, c switchboardtestv1connect.EchoServiceClient, reqs []*switchboardtestv1.EchoRequest) (int, error)
	// WantRecv and WantSent are the messages the server counts for reqs of
	// length 2.
	WantRecv, WantSent int64
}

// Shapes are unary, client-, server- and bidi-streaming calls.
var Shapes = []Shape{
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

// Msgs makes one request per text.
func Msgs(texts ...string) []*switchboardtestv1.EchoRequest {
	var out []*switchboardtestv1.EchoRequest
	for _, t := range texts {
		out = append(out, &switchboardtestv1.EchoRequest{Text: t})
	}
	return out
}

// details decodes the ErrorInfo reason and BadRequest fields of err.
// Details reads an error's ErrorInfo reason, BadRequest fields and request id.
func Details(t testing.TB, err error) (reason string, fields []string, requestID string) {
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

// ErrorsAs is errors.As for *connect.Error.
func ErrorsAs(err error, target **connect.Error) bool { return errors.As(err, target) }
