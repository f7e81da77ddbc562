package dynamic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Events receives what a call produces, as it arrives. Any field may be nil.
type Events struct {
	// Headers gets the response headers once they arrive.
	Headers func(*connect.Header)
	// Message gets each response message.
	Message func(proto.Message)
	// Trailers gets the response trailers when the call ends.
	Trailers func(*connect.Header)
}

// Requests yields request messages, then io.EOF.
type Requests func() (proto.Message, error)

// JSONRequests reads a sequence of JSON objects from r (one for unary and
// server-streaming calls, any number for client and bidi streams) as
// messages of type md. An empty input is one empty message for unary and
// server-streaming calls.
func JSONRequests(r io.Reader, md protoreflect.MessageDescriptor, src Source, allowUnknown bool) Requests {
	dec := json.NewDecoder(r)
	opts := protojson.UnmarshalOptions{DiscardUnknown: allowUnknown, Resolver: newTypeResolver(src)}
	n := 0
	return func() (proto.Message, error) {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("request %d is not JSON: %w", n+1, err)
		}
		n++
		msg := dynamicpb.NewMessage(md)
		if err := opts.Unmarshal(raw, msg); err != nil {
			return nil, fmt.Errorf("request %d does not fit %s: %w", n, md.FullName(), err)
		}
		return msg, nil
	}
}

// Messages yields the given messages, then io.EOF.
func Messages(msgs ...proto.Message) Requests {
	i := 0
	return func() (proto.Message, error) {
		if i == len(msgs) {
			return nil, io.EOF
		}
		i++
		return msgs[i-1], nil
	}
}

// StreamType reports a method's call shape.
func StreamType(md protoreflect.MethodDescriptor) connect.StreamType {
	switch {
	case md.IsStreamingClient() && md.IsStreamingServer():
		return connect.StreamTypeBidi
	case md.IsStreamingClient():
		return connect.StreamTypeClient
	case md.IsStreamingServer():
		return connect.StreamTypeServer
	}
	return connect.StreamTypeUnary
}

// Invoke calls method with the messages next yields and reports the
// response through ev. It returns the call's error: a *connect.Error for an
// RPC failure (see StatusJSON), or an error reading the requests.
func (c *Client) Invoke(ctx context.Context, md protoreflect.MethodDescriptor, next Requests, ev Events) error {
	spec := connect.Spec{
		StreamType: StreamType(md),
		Procedure:  "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		Schema:     md,
	}
	ctx, info := connect.NewClientContext(ctx)
	if spec.StreamType == connect.StreamTypeUnary {
		return c.invokeUnary(ctx, spec, md, info, next, ev)
	}
	return c.invokeStream(ctx, spec, md, info, next, ev)
}

func firstRequest(md protoreflect.MethodDescriptor, next Requests) (proto.Message, error) {
	req, err := next()
	if errors.Is(err, io.EOF) {
		return dynamicpb.NewMessage(md.Input()), nil
	}
	return req, err
}

func (c *Client) invokeUnary(ctx context.Context, spec connect.Spec, md protoreflect.MethodDescriptor,
	info *connect.CallInfo, next Requests, ev Events,
) error {
	req, err := firstRequest(md, next)
	if err != nil {
		return err
	}
	res := dynamicpb.NewMessage(md.Output())
	err = c.calls.CallUnary(ctx, spec, req, res)
	emitHeader(ev.Headers, info.ResponseHeader())
	if err == nil && ev.Message != nil {
		ev.Message(res)
	}
	emitHeader(ev.Trailers, info.ResponseTrailer())
	return err
}

func (c *Client) invokeStream(ctx context.Context, spec connect.Spec, md protoreflect.MethodDescriptor,
	info *connect.CallInfo, next Requests, ev Events,
) error {
	// The stream is opened by hand for every streaming shape, server streams
	// included: connect-go v2.0.2's CallServerStream returns the io.EOF of
	// its Send when a server refuses a call before reading it, losing the
	// status that Receive reports.
	stream, err := c.calls.CallClientStream(ctx, spec)
	if err != nil {
		return err
	}
	defer stream.Close()
	sendErr := make(chan error, 1)
	go func() { sendErr <- sendAll(stream, md, spec.StreamType, next) }()

	headers := false
	for {
		res := dynamicpb.NewMessage(md.Output())
		err := stream.Receive(res)
		if !headers {
			headers = true
			emitHeader(ev.Headers, info.ResponseHeader())
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			emitHeader(ev.Trailers, info.ResponseTrailer())
			if serr := <-sendErr; serr != nil && connect.CodeOf(err) == connect.CodeCanceled {
				return serr
			}
			return err
		}
		if ev.Message != nil {
			ev.Message(res)
		}
	}
	emitHeader(ev.Trailers, info.ResponseTrailer())
	return <-sendErr
}

// sendAll sends the requests and closes the send side. A Send that fails
// because the server already ended the call is not an error here: the
// call's status comes from Receive.
func sendAll(stream connect.ClientStream, md protoreflect.MethodDescriptor, shape connect.StreamType, next Requests) error {
	defer func() { _ = stream.CloseSend() }()
	if shape == connect.StreamTypeServer {
		req, err := firstRequest(md, next)
		if err != nil {
			_ = stream.Close()
			return err
		}
		_ = stream.Send(req)
		return nil
	}
	for {
		req, err := next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			_ = stream.Close()
			return err
		}
		if err := stream.Send(req); err != nil {
			return nil
		}
	}
}

func emitHeader(fn func(*connect.Header), h *connect.Header) {
	if fn != nil && h != nil {
		fn(h)
	}
}
