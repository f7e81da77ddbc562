package errmap

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

	"github.com/switchboardkit/switchboard"
	"github.com/switchboardkit/switchboard/internal/rpcerr"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/validate"
)

// Rule is one row of the mapping table: errors that Match are answered
// with Code, a google.rpc.ErrorInfo carrying Reason, and Message as the
// public text.
type Rule struct {
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

// DefaultRules is the kit's table, in the order rules are tried
// (docs/errors.md shows it as a table).
func DefaultRules() []Rule {
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
	return []Rule{
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

// New returns the error-mapping interceptor. For each failed call:
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
func New(cfg Config) connect.ServerInterceptor {
	o := &mapper{rules: append(append([]Rule{}, cfg.Rules...), DefaultRules()...),
		logger: cfg.Logger, asAuthored: cfg.AuthoredAsIs}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) (err error) {
			defer func() {
				if r := recover(); r != nil {
					o.logger.ErrorContext(ctx, "panic in handler", "procedure", spec.Procedure,
						"request_id", switchboard.RequestIDFromContext(ctx), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					err = o.build(ctx, Rule{Code: connect.CodeInternal, Reason: ReasonPanic, Message: "internal error"},
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

func (o *mapper) mapError(ctx context.Context, spec connect.Spec, err error) error {
	if ctx.Err() != nil && !o.deliberate(err) {
		// The client went away or its deadline passed, and the work in
		// progress failed with it ("interrupted", "transaction already
		// rolled back", a read error): that is the client's doing, not a
		// server fault. The cause is still logged, at INFO.
		o.logger.Log(ctx, slog.LevelInfo, "rpc ended with its context", "procedure", spec.Procedure,
			"request_id", switchboard.RequestIDFromContext(ctx), "cause", err.Error())
		return rpcerr.Ended(ctx).WithCause(err)
	}
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		switch {
		case cerr.IsRemote():
			o.logCause(ctx, spec, connect.CodeInternal, err)
			return o.build(ctx, Rule{Code: connect.CodeInternal, Reason: ReasonInternal, Message: "internal error"}, err)
		case cerr.Code() == connect.CodeInvalidArgument && isValidation(err):
			// A violation found while decoding (an unknown enum name).
			return o.build(ctx, o.rules[o.validationRule()], err)
		case cerr.Code() == connect.CodeResourceExhausted && strings.Contains(cerr.Message(), "exceeds sendMaxBytes"):
			// The transport's send limit: its text names an internal option.
			o.logCause(ctx, spec, connect.CodeResourceExhausted, err)
			return o.build(ctx, Rule{Code: connect.CodeResourceExhausted, Reason: ReasonResponseTooLarge,
				Message: "the response is larger than this server is configured to send"}, err)
		}
		return o.withErrorInfo(ctx, cerr)
	}
	var serr switchboard.StatusError
	if errors.As(err, &serr) {
		code, reason, message := serr.RPCStatus()
		o.logCause(ctx, spec, code, err)
		return o.build(ctx, Rule{Code: code, Reason: reason, Message: message}, err)
	}
	rule := Rule{Code: connect.CodeInternal, Reason: ReasonInternal, Message: "internal error"}
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
func (o *mapper) deliberate(err error) bool {
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
func (o *mapper) validationRule() int {
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
// its own is left alone. With Config.AuthoredAsIs it adds nothing.
func (o *mapper) withErrorInfo(ctx context.Context, cerr *connect.Error) *connect.Error {
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
	detail, err := connectproto.NewErrorDetail(rpcerr.Info(ctx, reasonForCode(cerr.Code())))
	if err != nil {
		return cerr
	}
	return cerr.WithDetail(detail)
}

// reasonForCode is the ErrorInfo reason given to an error that names none:
// its code in upper snake case ("NOT_FOUND", "INVALID_ARGUMENT").
func reasonForCode(code connect.Code) string {
	return strings.ToUpper(code.String())
}

func (o *mapper) build(ctx context.Context, rule Rule, cause error) *connect.Error {
	message := rule.Message
	var extra []proto.Message
	if rule.Details != nil {
		m, d := rule.Details(cause)
		if m != "" {
			message = m
		}
		extra = d
	}
	return rpcerr.New(ctx, rule.Code, rule.Reason, message, rule.RetryAfter, extra...).WithCause(cause)
}

// logCause logs what the client is not told: at error level for server
// faults, at debug level for the caller's own mistakes.
func (o *mapper) logCause(ctx context.Context, spec connect.Spec, code connect.Code, err error) {
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
	ReasonCanceled         = rpcerr.ReasonCanceled
	ReasonDeadlineExceeded = rpcerr.ReasonDeadlineExceeded
	ReasonShuttingDown     = rpcerr.ReasonShuttingDown
)

type mapper struct {
	rules      []Rule
	logger     *slog.Logger
	asAuthored bool
}
