package echo

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
)

// RegisterGRPC serves h on a gRPC-Go server — a server Switchboard did not
// build — for tests of clients that must work against any gRPC server.
func RegisterGRPC(s *grpc.Server, h *Handler) {
	unary := func(fn func(context.Context, *switchboardtestv1.EchoRequest) (*switchboardtestv1.EchoResponse, error)) grpc.MethodHandler {
		return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			req := new(switchboardtestv1.EchoRequest)
			if err := dec(req); err != nil {
				return nil, err
			}
			return fn(ctx, req)
		}
	}
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "switchboardtest.v1.EchoService",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Echo", Handler: unary(h.Echo)},
			{MethodName: "PublicEcho", Handler: unary(h.PublicEcho)},
		},
		Streams: []grpc.StreamDesc{
			{StreamName: "Expand", ServerStreams: true, Handler: func(_ any, stream grpc.ServerStream) error {
				req := new(switchboardtestv1.EchoRequest)
				if err := stream.RecvMsg(req); err != nil {
					return err
				}
				for range req.GetCount() {
					if err := stream.SendMsg(&switchboardtestv1.EchoResponse{Text: req.GetText()}); err != nil {
						return err
					}
				}
				return nil
			}},
			{StreamName: "Collect", ClientStreams: true, Handler: func(_ any, stream grpc.ServerStream) error {
				text := ""
				for {
					req := new(switchboardtestv1.EchoRequest)
					err := stream.RecvMsg(req)
					if errors.Is(err, io.EOF) {
						return stream.SendMsg(&switchboardtestv1.EchoResponse{Text: text})
					}
					if err != nil {
						return err
					}
					if text != "" {
						text += " "
					}
					text += req.GetText()
				}
			}},
			{StreamName: "Chat", ClientStreams: true, ServerStreams: true, Handler: func(_ any, stream grpc.ServerStream) error {
				for {
					req := new(switchboardtestv1.EchoRequest)
					err := stream.RecvMsg(req)
					if errors.Is(err, io.EOF) {
						return nil
					}
					if err != nil {
						return err
					}
					if err := stream.SendMsg(&switchboardtestv1.EchoResponse{Text: req.GetText()}); err != nil {
						return err
					}
				}
			}},
		},
		Metadata: "switchboardtest/v1/echo.proto",
	}, h)
}
