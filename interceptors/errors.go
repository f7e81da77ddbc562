package interceptors

// Errors: the third interceptor. It recovers panics and maps every error
// the inner chain returns (validation, the handler) to a code with details
// from one table, so only text written for clients reaches the wire. It reads
// the request id from the context (put there by requestlog) and logs each
// cause with it; it puts nothing on the context.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/switchboardkit/switchboard"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/validate"
)

// ErrorRule is one row of the mapping table: errors that Match are answered
// with Code, a google.rpc.ErrorInfo carrying Reason, and Message as the
// public text.
type ErrorRule struct {
	Match   func(error) bool
	Code    connect.Code
	Reason  string
	Message string
	// RetryAfter, when positive, adds a google.rpc.RetryInfo.
	RetryAfter time.Duration
	// Details, when set, adds more details built from the error, and may
	// replace the message (return "" to keep Message).
	Details func(error) (message string, details []proto.Message)
}

// Reasons in google.rpc.ErrorInfo, stable for clients to branch on.
const (
	ReasonValidationFailed    = "VALIDATION_FAILED"
	ReasonNotFound            = "NOT_FOUND"
	ReasonAlreadyExists       = "ALREADY_EXISTS"
	ReasonPermissionDenied    = "PERMISSION_DENIED"
	ReasonNotImplemented      = "NOT_IMPLEMENTED"
	ReasonDatabaseUnavailable = "DATABASE_UNAVAILABLE"
	ReasonPanic               = "PANIC"
	ReasonResponseTooLarge    = "RESPONSE_TOO_LARGE"
	ReasonInternal            = "INTERNAL"
)

// DefaultErrorRules is the kit's table, in the order rules are tried
// (docs/errors.md shows it as a table).
func DefaultErrorRules() []ErrorRule {
	is := func(targets ...error) func(error) bool {
		return func(err error) bool {
			for _, t := range targets {
				if errors.Is(err, t) {
					return true
				}
			}
			return false
		}
	}
	return []ErrorRule{
		{Match: isValidation, Code: connect.CodeInvalidArgument, Reason: ReasonValidationFailed,
			Message: "invalid request", Details: validationDetails},
		{Match: is(sql.ErrNoRows, switchboard.ErrNotFound), Code: connect.CodeNotFound,
			Reason: ReasonNotFound, Message: "not found"},
		{Match: func(err error) bool {
			return errors.Is(err, switchboard.ErrAlreadyExists) || store.IsUniqueViolation(err)
		},
			Code: connect.CodeAlreadyExists, Reason: ReasonAlreadyExists, Message: "already exists"},
		{Match: is(switchboard.ErrPermissionDenied), Code: connect.CodePermissionDenied,
			Reason: ReasonPermissionDenied, Message: "permission denied"},
		{Match: is(errors.ErrUnsupported, switchboard.ErrNotImplemented), Code: connect.CodeUnimplemented,
			Reason: ReasonNotImplemented, Message: "not implemented"},
		{Match: is(context.DeadlineExceeded), Code: connect.CodeDeadlineExceeded, Reason: ReasonDeadlineExceeded, Message: "deadline exceeded"},
		{Match: is(context.Canceled), Code: connect.CodeCanceled, Reason: ReasonCanceled, Message: "canceled"},
		{Match: store.IsUnavailable, Code: connect.CodeUnavailable, Reason: ReasonDatabaseUnavailable,
			Message: "the database is unavailable; retry later", RetryAfter: time.Second},
	}
}

func isValidation(err error) bool {
	var verr *validate.Error
	if errors.As(err, &verr) {
		return true
	}
	_, ok := validate.FromValidator(err)
	return ok
}

func validationDetails(err error) (string, []proto.Message) {
	var verr *validate.Error
	if !errors.As(err, &verr) {
		verr, _ = validate.FromValidator(err)
	}
	return verr.Error(), []proto.Message{verr.BadRequest()}
}

type errorsOptions struct {
	rules      []ErrorRule
	domain     string
	logger     *slog.Logger
	asAuthored bool
}

// ErrorsOption configures Errors.
type ErrorsOption func(*errorsOptions)

// WithErrorRules puts rules ahead of the defaults, so they win.
func WithErrorRules(rules ...ErrorRule) ErrorsOption {
	return func(o *errorsOptions) { o.rules = append(append([]ErrorRule{}, rules...), o.rules...) }
}

// WithErrorDomain sets google.rpc.ErrorInfo.domain (default "switchboard").
func WithErrorDomain(domain string) ErrorsOption {
	return func(o *errorsOptions) { o.domain = domain }
}

// WithAuthoredErrorsAsIs sends a *connect.Error authored by a handler or by
// the transport (a decode error, a size limit) exactly as authored, without
// the ErrorInfo the kit otherwise appends. Errors the kit maps or authors
// still carry theirs. For protocol test suites and for services whose
// clients compare error details exactly; off by default.
func WithAuthoredErrorsAsIs() ErrorsOption {
	return func(o *errorsOptions) { o.asAuthored = true }
}

// WithErrorLogger sets where causes and panics are logged (default
// slog.Default()).
func WithErrorLogger(logger *slog.Logger) ErrorsOption {
	return func(o *errorsOptions) { o.logger = logger }
}

// Errors returns the error-mapping interceptor. For each failed call:
//   - a *connect.Error authored on this server passes through as it is;
//   - a remote *connect.Error (from a downstream call) is never forwarded:
//     it becomes INTERNAL;
//   - an error implementing switchboard.StatusError chooses its own status;
//   - otherwise the first matching rule decides, and anything unmatched is
//     INTERNAL "internal error".
//
// A panic becomes INTERNAL with reason PANIC; its stack goes to the log only.
// Every mapped error carries google.rpc.ErrorInfo{reason, domain,
// metadata.request_id}; the cause is logged with the request id and never
// sent.
func Errors(opts ...ErrorsOption) connect.ServerInterceptor {
	o := errorsOptions{rules: DefaultErrorRules(), domain: "switchboard", logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) (err error) {
			defer func() {
				if r := recover(); r != nil {
					o.logger.ErrorContext(ctx, "panic in handler", "procedure", spec.Procedure,
						"request_id", switchboard.RequestIDFromContext(ctx), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					err = o.build(ctx, ErrorRule{Code: connect.CodeInternal, Reason: ReasonPanic, Message: "internal error"},
						fmt.Errorf("panic: %v", r))
				}
			}()
			if err = next(ctx, spec, stream); err == nil {
				return nil
			}
			return o.mapError(ctx, spec, err)
		}
	}
}

func (o *errorsOptions) mapError(ctx context.Context, spec connect.Spec, err error) error {
	if ctx.Err() != nil && !o.deliberate(err) {
		// The client went away or its deadline passed, and the work in
		// progress failed with it ("interrupted", "transaction already
		// rolled back", a read error): that is the client's doing, not a
		// server fault. The cause is still logged, at INFO.
		o.logger.Log(ctx, slog.LevelInfo, "rpc ended with its context", "procedure", spec.Procedure,
			"request_id", switchboard.RequestIDFromContext(ctx), "cause", err.Error())
		if shutdown := context.Cause(ctx); errors.Is(shutdown, ErrServerShuttingDown) {
			return statusError(ctx, o.domain, connect.CodeUnavailable, ReasonShuttingDown,
				"the server is shutting down; retry", time.Second).WithCause(err)
		}
		return ctxError(ctx, o.domain).WithCause(err)
	}
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		switch {
		case cerr.IsRemote():
			o.logCause(ctx, spec, connect.CodeInternal, err)
			return o.build(ctx, ErrorRule{Code: connect.CodeInternal, Reason: ReasonInternal, Message: "internal error"}, err)
		case cerr.Code() == connect.CodeInvalidArgument && isValidation(err):
			// A violation found while decoding (an unknown enum name).
			return o.build(ctx, o.rules[o.validationRule()], err)
		case cerr.Code() == connect.CodeResourceExhausted && strings.Contains(cerr.Message(), "exceeds sendMaxBytes"):
			// The transport's send limit: its text names an internal option.
			o.logCause(ctx, spec, connect.CodeResourceExhausted, err)
			return o.build(ctx, ErrorRule{Code: connect.CodeResourceExhausted, Reason: ReasonResponseTooLarge,
				Message: "the response is larger than this server is configured to send"}, err)
		}
		return o.withErrorInfo(ctx, cerr)
	}
	var serr switchboard.StatusError
	if errors.As(err, &serr) {
		code, reason, message := serr.RPCStatus()
		o.logCause(ctx, spec, code, err)
		return o.build(ctx, ErrorRule{Code: code, Reason: reason, Message: message}, err)
	}
	rule := ErrorRule{Code: connect.CodeInternal, Reason: ReasonInternal, Message: "internal error"}
	for _, r := range o.rules {
		if r.Match(err) {
			rule = r
			break
		}
	}
	o.logCause(ctx, spec, rule.Code, err)
	return o.build(ctx, rule, err)
}

// deliberate reports whether err is a status someone chose on purpose, which
// stands even when the call's context has ended: a local *connect.Error, a
// StatusError, or an error a rule maps (a sentinel such as ErrNotFound, a
// validation failure) — unless its code is one a failed I/O or
// cancellation produces.
func (o *errorsOptions) deliberate(err error) bool {
	code := connect.CodeUnknown
	var cerr *connect.Error
	var serr switchboard.StatusError
	switch {
	case errors.As(err, &cerr):
		if cerr.IsRemote() {
			return false
		}
		code = cerr.Code()
	case errors.As(err, &serr):
		code, _, _ = serr.RPCStatus()
	default:
		for _, r := range o.rules {
			if r.Match(err) {
				code = r.Code
				break
			}
		}
	}
	switch code {
	case connect.CodeInternal, connect.CodeUnknown, connect.CodeUnavailable, connect.CodeAborted,
		connect.CodeCanceled, connect.CodeDeadlineExceeded:
		return false
	}
	return true
}

// validationRule returns the index of the first rule that matches
// validation errors.
func (o *errorsOptions) validationRule() int {
	probe := &validate.Error{}
	for i, r := range o.rules {
		if r.Match(probe) {
			return i
		}
	}
	return 0
}

// withErrorInfo makes an error authored elsewhere — a handler's
// connect.Errorf, the transport's decode errors — carry what every error the
// kit sends carries: a google.rpc.ErrorInfo with a reason (the code's name,
// "NOT_FOUND") and the request id, appended after its own details. Its code,
// message and details stay as they are; an error that has an ErrorInfo of
// its own is left alone. With WithAuthoredErrorsAsIs it adds nothing.
func (o *errorsOptions) withErrorInfo(ctx context.Context, cerr *connect.Error) *connect.Error {
	if o.asAuthored {
		return cerr
	}
	for _, d := range cerr.Details() {
		if msg, err := connectproto.UnmarshalErrorDetail(d); err == nil {
			if _, ok := msg.(*errdetails.ErrorInfo); ok {
				return cerr
			}
		}
	}
	info := &errdetails.ErrorInfo{Reason: ReasonForCode(cerr.Code()), Domain: o.domain}
	if id := switchboard.RequestIDFromContext(ctx); id != "" {
		info.Metadata = map[string]string{"request_id": id}
	}
	detail, err := connectproto.NewErrorDetail(info)
	if err != nil {
		return cerr
	}
	return cerr.WithDetail(detail)
}

// ReasonForCode is the ErrorInfo reason given to an error that names none:
// its code in upper snake case ("NOT_FOUND", "INVALID_ARGUMENT").
func ReasonForCode(code connect.Code) string {
	return strings.ToUpper(code.String())
}

func (o *errorsOptions) build(ctx context.Context, rule ErrorRule, cause error) *connect.Error {
	message := rule.Message
	var extra []proto.Message
	if rule.Details != nil {
		m, d := rule.Details(cause)
		if m != "" {
			message = m
		}
		extra = d
	}
	return statusError(ctx, o.domain, rule.Code, rule.Reason, message, rule.RetryAfter, extra...).WithCause(cause)
}

// statusError is how every interceptor authors an error: code and public
// message, a google.rpc.ErrorInfo{reason, domain, metadata.request_id} when
// reason is set, a google.rpc.RetryInfo when retry is positive, then extra.
func statusError(ctx context.Context, domain string, code connect.Code, reason, message string,
	retry time.Duration, extra ...proto.Message,
) *connect.Error {
	out := connect.NewError(code, message)
	var details []proto.Message
	if reason != "" {
		info := &errdetails.ErrorInfo{Reason: reason, Domain: domain}
		if id := switchboard.RequestIDFromContext(ctx); id != "" {
			info.Metadata = map[string]string{"request_id": id}
		}
		details = append(details, info)
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

// logCause logs what the client is not told: at error level for server
// faults, at debug level for the caller's own mistakes.
func (o *errorsOptions) logCause(ctx context.Context, spec connect.Spec, code connect.Code, err error) {
	level := slog.LevelDebug
	switch code {
	case connect.CodeInternal, connect.CodeUnknown, connect.CodeDataLoss, connect.CodeUnavailable:
		level = slog.LevelError
	}
	o.logger.Log(ctx, level, "rpc error", "procedure", spec.Procedure, "code", code.String(),
		"request_id", switchboard.RequestIDFromContext(ctx), "cause", err.Error())
}

// Reasons for calls that ended because of their context.
const (
	ReasonCanceled         = "CANCELED"
	ReasonDeadlineExceeded = "DEADLINE_EXCEEDED"
	ReasonShuttingDown     = "SHUTTING_DOWN"
)

// ErrServerShuttingDown is the cause a server gives the contexts of calls it
// cancels at the end of its shutdown grace period; such calls end
// UNAVAILABLE (retry elsewhere), not CANCELED.
var ErrServerShuttingDown = errors.New("the server is shutting down")

// deadlineReached reports whether ctx's deadline has (all but) passed. A
// client cancels its side at its deadline, which is a little before the
// server's (the timeout travels with the request): a cancel that arrives
// then is the deadline, not the client changing its mind.
func deadlineReached(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < 25*time.Millisecond
}

// ctxError answers a call whose context ended: DEADLINE_EXCEEDED when its
// deadline passed, CANCELED when its client went away — never a server
// fault, whatever error the work in progress returned.
func ctxError(ctx context.Context, domain string) *connect.Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || deadlineReached(ctx) {
		return statusError(ctx, domain, connect.CodeDeadlineExceeded, ReasonDeadlineExceeded, "deadline exceeded", 0)
	}
	return statusError(ctx, domain, connect.CodeCanceled, ReasonCanceled, "canceled", 0)
}
