package admin

import (
	"context"
	"encoding/base64"
	"strconv"
	"time"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
	"github.com/switchboardkit/switchboard/gen/switchboard/admin/v1/adminv1connect"
	"github.com/switchboardkit/switchboard/internal/callctx"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/validate"
)

func logProto(r *store.RequestLog) *adminv1.RequestLog {
	return &adminv1.RequestLog{
		Id: r.ID, RequestId: r.RequestID, Procedure: r.Procedure, StreamType: r.StreamType,
		Protocol: r.Protocol, HttpVersion: r.HTTPVersion, Code: r.Code,
		ErrorMessage: r.ErrorMessage, ErrorReason: r.ErrorReason,
		StartTime: timestamppb.New(r.StartTime), Duration: durationpb.New(time.Duration(r.DurationMicros) * time.Microsecond),
		PeerIp: r.PeerIP, UserAgent: r.UserAgent, KeyId: r.KeyID, KeyName: r.KeyName,
		RequestBytes: r.RequestBytes, ResponseBytes: r.ResponseBytes,
		MessagesReceived: r.MessagesReceived, MessagesSent: r.MessagesSent,
		RequestPayload: r.RequestPayload, ResponsePayload: r.ResponsePayload,
		ErrorDetails: r.ErrorDetails, HttpMethod: r.HTTPMethod, HttpRoute: r.HTTPRoute,
	}
}

func (a *Service) ListRequestLogs(ctx context.Context, req *adminv1.ListRequestLogsRequest) (*adminv1.ListRequestLogsResponse, error) {
	size := int(req.GetPageSize())
	switch {
	case size == 0:
		size = 50
	case size < 0 || size > 200:
		return nil, validate.Fieldf("page_size", "range", "must be 1 to 200")
	}
	var before int64
	if tok := req.GetPageToken(); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err == nil {
			before, err = strconv.ParseInt(string(raw), 10, 64)
		}
		if err != nil || before <= 0 {
			return nil, validate.Fieldf("page_token", "invalid", "was not issued by ListRequestLogs")
		}
	}
	filter := store.LogFilter{
		Service: req.GetService(), Method: req.GetMethod(), Code: req.GetCode(),
		KeyID: req.GetPrincipal(), RequestID: req.GetRequestId(),
		ErrorContains: req.GetErrorContains(), BeforeID: before,
	}
	if req.GetWindow() != nil {
		from, to, err := window(req.GetWindow())
		if err != nil {
			return nil, err
		}
		filter.From, filter.To = from, to
	}
	rows, err := store.ListRequestLogs(ctx, a.cfg.DB, filter, size+1)
	if err != nil {
		return nil, err
	}
	res := &adminv1.ListRequestLogsResponse{}
	if len(rows) > size {
		rows = rows[:size]
		res.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(rows[size-1].ID, 10)))
	}
	for _, r := range rows {
		res.Logs = append(res.Logs, logProto(r))
	}
	return res, nil
}

func (a *Service) GetRequestLog(ctx context.Context, req *adminv1.GetRequestLogRequest) (*adminv1.GetRequestLogResponse, error) {
	row, err := store.FindRequestLog(ctx, a.cfg.DB, req.GetRequestId())
	if err != nil {
		return nil, connect.Errorf(connect.CodeNotFound, "no request log with request id %q", req.GetRequestId()).WithCause(err)
	}
	return &adminv1.GetRequestLogResponse{Log: logProto(row)}, nil
}

func (a *Service) WatchRequestLogs(ctx context.Context, req *adminv1.WatchRequestLogsRequest, stream adminv1connect.AdminServiceWatchRequestLogsServerStream) error {
	if a.tail == nil {
		return connect.Errorf(connect.CodeUnimplemented, "this server has no cluster bus to tail calls from")
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	lines := a.tail.watch(ctx)
	if err := stream.SendHeaders(); err != nil {
		return err
	}
	drain := callctx.Drain(ctx)
	for {
		select {
		case l := <-lines:
			if !matches(req, l) {
				continue
			}
			if err := stream.Send(&adminv1.WatchRequestLogsResponse{Log: l}); err != nil {
				return err
			}
		case <-drain:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
