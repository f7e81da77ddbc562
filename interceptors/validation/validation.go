// Package validation is the validation interceptor, the last of the kit's
// chain before your own interceptors and the handler. It checks every
// request message with a validate.Engine — the unary request and each
// message a stream receives — before the handler sees it, and returns the
// *validate.Error that errmap (just outside it) turns into INVALID_ARGUMENT
// with a google.rpc.BadRequest.
//
// What it must not do: check responses, or put anything on the context.
package validation

import (
	"context"
	"google.golang.org/protobuf/proto"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard/validate"
)

// New returns the validation interceptor for engine (nil: an engine with
// only the rules the messages' protos declare).
func New(engine *validate.Engine) connect.ServerInterceptor {
	if engine == nil {
		engine = validate.New()
	}
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
	if _, ok := msg.(proto.Message); !ok {
		return nil
	}
	return s.engine.Validate(msg)
}
