package interceptors

// Validate: the fourth interceptor. It checks every request message with a
// validate.Engine — the unary request and each message a stream receives —
// before the handler sees it, and returns the *validate.Error that the errors
// interceptor (just outside it) turns into INVALID_ARGUMENT with a
// google.rpc.BadRequest. It reads and adds nothing on the context.

import (
	"context"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard/validate"
)

// Validate returns the validation interceptor for engine.
func Validate(engine *validate.Engine) connect.ServerInterceptor {
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			return next(ctx, spec, &validatingStream{ServerStream: stream, engine: engine})
		}
	}
}

type validatingStream struct {
	connect.ServerStream
	engine *validate.Engine
}

func (s *validatingStream) Receive(msg any) error {
	if err := s.ServerStream.Receive(msg); err != nil {
		return err
	}
	if !validate.IsMessage(msg) {
		return nil
	}
	return s.engine.Validate(msg)
}
