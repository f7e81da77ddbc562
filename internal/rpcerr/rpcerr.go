// Package rpcerr is how the kit authors the errors it sends: a code, a
// public message, a google.rpc.ErrorInfo with a stable reason and the
// request id, and a google.rpc.RetryInfo when a retry makes sense. The auth,
// limit and error-mapping interceptors all build their errors here, so every
// error the kit writes has the same shape (docs/errors.md).
package rpcerr

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/switchboardkit/switchboard/internal/callctx"
)

// Domain is the google.rpc.ErrorInfo domain of the kit's errors.
const Domain = "switchboard"

// Reasons of calls that ended because of their context.
const (
	ReasonCanceled         = "CANCELED"
	ReasonDeadlineExceeded = "DEADLINE_EXCEEDED"
	ReasonShuttingDown     = "SHUTTING_DOWN"
)

// New returns an error with code and public message, a
// google.rpc.ErrorInfo{reason, Domain, metadata.request_id} when reason is
// set, a google.rpc.RetryInfo when retry is positive, then extra.
func New(ctx context.Context, code connect.Code, reason, message string,
	retry time.Duration, extra ...proto.Message,
) *connect.Error {
	out := connect.NewError(code, message)
	var details []proto.Message
	if reason != "" {
		details = append(details, Info(ctx, reason))
	}
	if retry > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(retry)})
	}
	for _, d := range append(details, extra...) {
		if detail, err := connectproto.NewErrorDetail(d); err == nil {
			out = out.WithDetail(detail)
		}
	}
	return out
}

// Info returns the ErrorInfo the kit attaches: reason, Domain and the
// call's request id.
func Info(ctx context.Context, reason string) *errdetails.ErrorInfo {
	info := &errdetails.ErrorInfo{Reason: reason, Domain: Domain}
	if id := callctx.RequestID(ctx); id != "" {
		info.Metadata = map[string]string{"request_id": id}
	}
	return info
}

// Ended answers a call whose context ended: UNAVAILABLE when the server cut
// it at shutdown, DEADLINE_EXCEEDED when its deadline passed, CANCELED when
// its client went away — never a server fault, whatever error the work in
// progress returned.
func Ended(ctx context.Context) *connect.Error {
	switch {
	case errors.Is(context.Cause(ctx), callctx.ErrShuttingDown):
		return New(ctx, connect.CodeUnavailable, ReasonShuttingDown, "the server is shutting down; retry", time.Second)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || deadlineReached(ctx):
		return New(ctx, connect.CodeDeadlineExceeded, ReasonDeadlineExceeded, "deadline exceeded", 0)
	}
	return New(ctx, connect.CodeCanceled, ReasonCanceled, "canceled", 0)
}

// deadlineReached reports whether ctx's deadline has (all but) passed. A
// client cancels its side at its deadline, which is a little before the
// server's (the timeout travels with the request): a cancel that arrives
// then is the deadline, not the client changing its mind.
func deadlineReached(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < 25*time.Millisecond
}
