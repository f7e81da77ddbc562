// Package echo implements the test-only switchboardtest.v1.EchoService: one
// method per call shape, and a `fail` field that makes the handler return
// each kind of error the kit must map. Tests only; nothing ships it.
package echo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectproto"
	"github.com/uptrace/bun"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/switchboardkit/switchboard"
	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/validate"
)

// Handler is the echo service. DB, when set, lets "unique" provoke a real
// unique-constraint violation.
type Handler struct {
	DB *bun.DB
	// Calls counts handler invocations (to prove a call was rejected before
	// reaching it).
	Calls atomic.Int64
}

var _ switchboardtestv1connect.EchoServiceHandler = (*Handler)(nil)

type domainError struct{}

func (domainError) Error() string { return "quota of widgets used up (internal detail)" }
func (domainError) RPCStatus() (connect.Code, string, string) {
	return connect.CodeFailedPrecondition, "QUOTA_EXCEEDED", "widget quota exceeded"
}

// Fail returns the error named by fail, as a handler would produce it.
func (h *Handler) Fail(ctx context.Context, fail string) error {
	switch fail {
	case "":
		return nil
	case "not_found":
		return fmt.Errorf("load widget 7 from table secret_widgets: %w", switchboard.ErrNotFound)
	case "no_rows":
		return fmt.Errorf("select: %w", sql.ErrNoRows)
	case "already_exists":
		return switchboard.ErrAlreadyExists
	case "unique":
		return h.uniqueViolation(ctx)
	case "permission_denied":
		return switchboard.ErrPermissionDenied
	case "unsupported":
		return fmt.Errorf("bulk mode: %w", errors.ErrUnsupported)
	case "not_implemented":
		return switchboard.ErrNotImplemented
	case "deadline":
		return fmt.Errorf("query: %w", context.DeadlineExceeded)
	case "canceled":
		return context.Canceled
	case "unavailable":
		return closedDBError(ctx)
	case "panic":
		panic("boom: secret panic text")
	case "connect":
		return connect.NewError(connect.CodeFailedPrecondition, "authored message")
	case "connect_detail":
		help, _ := connectproto.NewErrorDetail(&errdetails.Help{Links: []*errdetails.Help_Link{{Url: "https://example.com/help"}}})
		return connect.NewError(connect.CodeFailedPrecondition, "authored message").WithDetail(help)
	case "connect_errorinfo":
		info, _ := connectproto.NewErrorDetail(&errdetails.ErrorInfo{Reason: "OWN_REASON", Domain: "echo.example"})
		return connect.NewError(connect.CodeFailedPrecondition, "authored message").WithDetail(info)
	case "linger":
		// Work that does not watch its context: it outlives a client that
		// went away.
		time.Sleep(500 * time.Millisecond)
		return nil
	case "interrupted":
		// What a database driver returns when the call's context ends
		// mid-query: wait for the client to go away, then fail "oddly".
		<-ctx.Done()
		return errors.New("interrupted (9)")
	case "remote":
		return connect.NewError(connect.CodeNotFound, "downstream said so").WithRemote()
	case "status":
		return domainError{}
	case "validation":
		return validate.Fieldf("widget.size", "max", "must be at most 3")
	default:
		return errors.New("secret internal cause: " + fail)
	}
}

func (h *Handler) uniqueViolation(ctx context.Context) error {
	if h.DB == nil {
		return errors.New("echo: no DB for the unique case")
	}
	_, key, err := store.NewAPIKey("dup", []string{"*"}, 0, time.Now())
	if err != nil {
		return err
	}
	if err := store.CreateAPIKey(ctx, h.DB, key); err != nil {
		return err
	}
	return store.CreateAPIKey(ctx, h.DB, key)
}

// closedDBError is what a query against an unreachable database returns.
func closedDBError(ctx context.Context) error {
	db, err := store.Open(ctx, "sqlite::memory:", store.Config{})
	if err != nil {
		return err
	}
	_ = db.Close()
	_, err = db.ExecContext(ctx, "SELECT 1")
	return err
}

func (h *Handler) respond(ctx context.Context, text string) *switchboardtestv1.EchoResponse {
	res := &switchboardtestv1.EchoResponse{Text: text}
	if p := switchboard.PrincipalFromContext(ctx); p != nil {
		res.Principal = p.KeyID
	}
	return res
}

// Echo answers with the text.
func (h *Handler) Echo(ctx context.Context, req *switchboardtestv1.EchoRequest) (*switchboardtestv1.EchoResponse, error) {
	h.Calls.Add(1)
	if err := h.Fail(ctx, req.GetFail()); err != nil {
		return nil, err
	}
	return h.respond(ctx, req.GetText()), nil
}

// PublicEcho is Echo, declared public.
func (h *Handler) PublicEcho(ctx context.Context, req *switchboardtestv1.EchoRequest) (*switchboardtestv1.EchoResponse, error) {
	return h.Echo(ctx, req)
}

// Collect joins every text it receives.
func (h *Handler) Collect(ctx context.Context, stream switchboardtestv1connect.EchoServiceCollectServerStream) (*switchboardtestv1.EchoResponse, error) {
	h.Calls.Add(1)
	var texts []string
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := h.Fail(ctx, req.GetFail()); err != nil {
			return nil, err
		}
		texts = append(texts, req.GetText())
	}
	return h.respond(ctx, strings.Join(texts, " ")), nil
}

// Expand sends count copies of the text.
func (h *Handler) Expand(ctx context.Context, req *switchboardtestv1.EchoRequest, stream switchboardtestv1connect.EchoServiceExpandServerStream) error {
	h.Calls.Add(1)
	if err := h.Fail(ctx, req.GetFail()); err != nil {
		return err
	}
	for range req.GetCount() {
		if err := stream.Send(h.respond(ctx, req.GetText())); err != nil {
			return err
		}
	}
	return nil
}

// Chat answers each message as it arrives.
func (h *Handler) Chat(ctx context.Context, stream switchboardtestv1connect.EchoServiceChatServerStream) error {
	h.Calls.Add(1)
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := h.Fail(ctx, req.GetFail()); err != nil {
			return err
		}
		if err := stream.Send(h.respond(ctx, req.GetText())); err != nil {
			return err
		}
	}
}
