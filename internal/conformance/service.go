package conformance

import (
	"context"
	"errors"
	"io"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	conformancev1 "github.com/switchboardkit/switchboard/gen/connectrpc/conformance/v1"
	"github.com/switchboardkit/switchboard/gen/connectrpc/conformance/v1/conformancev1connect"
)

// Service is the ConformanceService handler.
type Service struct {
	conformancev1connect.UnimplementedConformanceServiceHandler
}

var _ conformancev1connect.ConformanceServiceHandler = Service{}

// call is what one RPC has seen so far.
type call struct {
	ctx  context.Context
	info *connect.CallInfo
	reqs []*anypb.Any
}

func newCall(ctx context.Context) *call {
	info, ok := connect.CallInfoForServerContext(ctx)
	if !ok {
		info = new(connect.CallInfo)
	}
	return &call{ctx: ctx, info: info}
}

// received records a request, for echoing.
func (c *call) received(msg proto.Message) error {
	a, err := anypb.New(msg)
	if err != nil {
		return connect.Errorf(connect.CodeInternal, "echo the request: %v", err)
	}
	c.reqs = append(c.reqs, a)
	return nil
}

// requestInfo echoes the call: its headers, timeout, GET query, and the
// requests since the last reset.
func (c *call) requestInfo() *conformancev1.ConformancePayload_RequestInfo {
	info := &conformancev1.ConformancePayload_RequestInfo{Requests: c.reqs}
	for name, values := range c.info.RequestHeader().All() {
		info.RequestHeaders = append(info.RequestHeaders, &conformancev1.Header{Name: name, Value: values})
	}
	if deadline, ok := c.ctx.Deadline(); ok {
		ms := time.Until(deadline).Milliseconds()
		info.TimeoutMs = &ms
	}
	if hi, ok := connecthttp.ServerInfoForContext(c.ctx); ok && len(hi.HTTPGetQueryParams()) > 0 {
		get := &conformancev1.ConformancePayload_ConnectGetInfo{}
		for name, values := range hi.HTTPGetQueryParams() {
			get.QueryParams = append(get.QueryParams, &conformancev1.Header{Name: name, Value: values})
		}
		info.ConnectGetInfo = get
	}
	return info
}

// respondWith sets the response headers and trailers a definition asks for.
func (c *call) respondWith(headers, trailers []*conformancev1.Header) {
	for _, h := range headers {
		for _, v := range h.GetValue() {
			c.info.ResponseHeader().Add(h.GetName(), v)
		}
	}
	for _, h := range trailers {
		for _, v := range h.GetValue() {
			c.info.ResponseTrailer().Add(h.GetName(), v)
		}
	}
}

// fail builds the error a definition asks for, with the request info as its
// last detail when withInfo (no response message carried it).
func (c *call) fail(def *conformancev1.Error, withInfo bool) error {
	out := connect.NewError(connect.Code(def.GetCode()), def.GetMessage())
	details := def.GetDetails()
	if withInfo {
		info, err := anypb.New(c.requestInfo())
		if err != nil {
			return connect.Errorf(connect.CodeInternal, "echo the request: %v", err)
		}
		details = append(append([]*anypb.Any{}, details...), info)
	}
	for _, d := range details {
		detail, err := connectproto.NewErrorDetail(d)
		if err != nil {
			return connect.Errorf(connect.CodeInternal, "error detail: %v", err)
		}
		out = out.WithDetail(detail)
	}
	return out
}

// unary answers a unary-shaped call (unary, idempotent unary, client
// stream) once every request is in.
func (c *call) unary(def *conformancev1.UnaryResponseDefinition) (*conformancev1.ConformancePayload, error) {
	if def == nil {
		return &conformancev1.ConformancePayload{RequestInfo: c.requestInfo()}, nil
	}
	c.respondWith(def.GetResponseHeaders(), def.GetResponseTrailers())
	if e := def.GetError(); e != nil {
		return nil, c.fail(e, true)
	}
	time.Sleep(time.Duration(def.GetResponseDelayMs()) * time.Millisecond)
	return &conformancev1.ConformancePayload{RequestInfo: c.requestInfo(), Data: def.GetResponseData()}, nil
}

// unaryCall answers Unary and IdempotentUnary alike.
func unaryCall[Res any](ctx context.Context, req interface {
	proto.Message
	GetResponseDefinition() *conformancev1.UnaryResponseDefinition
}, wrap func(*conformancev1.ConformancePayload) *Res,
) (*Res, error) {
	c := newCall(ctx)
	if err := c.received(req); err != nil {
		return nil, err
	}
	payload, err := c.unary(req.GetResponseDefinition())
	if err != nil {
		return nil, err
	}
	return wrap(payload), nil
}

// Unary implements the service.
func (Service) Unary(ctx context.Context, req *conformancev1.UnaryRequest) (*conformancev1.UnaryResponse, error) {
	return unaryCall(ctx, req, func(p *conformancev1.ConformancePayload) *conformancev1.UnaryResponse {
		return &conformancev1.UnaryResponse{Payload: p}
	})
}

// IdempotentUnary implements the service (Connect GET included).
func (Service) IdempotentUnary(ctx context.Context, req *conformancev1.IdempotentUnaryRequest) (*conformancev1.IdempotentUnaryResponse, error) {
	return unaryCall(ctx, req, func(p *conformancev1.ConformancePayload) *conformancev1.IdempotentUnaryResponse {
		return &conformancev1.IdempotentUnaryResponse{Payload: p}
	})
}

// ClientStream implements the service: the first request's definition
// decides the answer, which echoes every request.
func (Service) ClientStream(ctx context.Context, stream conformancev1connect.ConformanceServiceClientStreamServerStream) (*conformancev1.ClientStreamResponse, error) {
	c := newCall(ctx)
	var def *conformancev1.UnaryResponseDefinition
	for first := true; ; first = false {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if first {
			def = req.GetResponseDefinition()
		}
		if err := c.received(req); err != nil {
			return nil, err
		}
	}
	payload, err := c.unary(def)
	if err != nil {
		return nil, err
	}
	return &conformancev1.ClientStreamResponse{Payload: payload}, nil
}

// ServerStream implements the service: one response per data item, the
// first echoing the request, then the defined error if any.
func (Service) ServerStream(ctx context.Context, req *conformancev1.ServerStreamRequest, stream conformancev1connect.ConformanceServiceServerStreamServerStream) error {
	c := newCall(ctx)
	if err := c.received(req); err != nil {
		return err
	}
	def := req.GetResponseDefinition()
	if def == nil {
		return nil
	}
	c.respondWith(def.GetResponseHeaders(), def.GetResponseTrailers())
	if len(def.GetResponseData()) > 0 {
		if err := stream.SendHeaders(); err != nil {
			return err
		}
	}
	for i, data := range def.GetResponseData() {
		res := &conformancev1.ServerStreamResponse{Payload: &conformancev1.ConformancePayload{Data: data}}
		if i == 0 {
			res.Payload.RequestInfo = c.requestInfo()
		}
		time.Sleep(time.Duration(def.GetResponseDelayMs()) * time.Millisecond)
		if err := stream.Send(res); err != nil {
			return err
		}
	}
	if e := def.GetError(); e != nil {
		return c.fail(e, len(def.GetResponseData()) == 0)
	}
	return nil
}

// BidiStream implements the service. Full duplex answers each request as it
// arrives (echoing the requests since the last answer); half duplex waits
// for the whole upload. Responses left over are sent at the end, then the
// defined error.
func (Service) BidiStream(ctx context.Context, stream conformancev1connect.ConformanceServiceBidiStreamServerStream) error {
	c := newCall(ctx)
	var def *conformancev1.StreamResponseDefinition
	fullDuplex, sent := false, 0
	send := func() error {
		res := &conformancev1.BidiStreamResponse{Payload: &conformancev1.ConformancePayload{Data: def.GetResponseData()[sent]}}
		switch {
		case sent == 0:
			res.Payload.RequestInfo = c.requestInfo()
		case fullDuplex:
			res.Payload.RequestInfo = &conformancev1.ConformancePayload_RequestInfo{Requests: c.reqs}
		}
		time.Sleep(time.Duration(def.GetResponseDelayMs()) * time.Millisecond)
		if err := stream.Send(res); err != nil {
			return err
		}
		sent++
		c.reqs = nil
		return nil
	}
	for first := true; ; first = false {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := c.received(req); err != nil {
			return err
		}
		if first {
			def, fullDuplex = req.GetResponseDefinition(), req.GetFullDuplex()
			c.respondWith(def.GetResponseHeaders(), def.GetResponseTrailers())
			// Headers go out at once only in full duplex: a half-duplex
			// client is still uploading.
			if fullDuplex && len(def.GetResponseData()) > 0 {
				if err := stream.SendHeaders(); err != nil {
					return err
				}
			}
		}
		if fullDuplex {
			if sent >= len(def.GetResponseData()) {
				break
			}
			if err := send(); err != nil {
				return err
			}
		}
	}
	if !fullDuplex && len(def.GetResponseData()) > 0 {
		if err := stream.SendHeaders(); err != nil {
			return err
		}
	}
	for sent < len(def.GetResponseData()) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := send(); err != nil {
			return err
		}
	}
	if e := def.GetError(); e != nil {
		return c.fail(e, sent == 0)
	}
	return nil
}
