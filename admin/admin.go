// Package admin implements the admin API (switchboard.admin.v1.AdminService):
// statistics from the rollups, request logs, API keys and instances; its
// web page is in adminui. It is registered on the
// server's own registry, so it is served over all three protocols, through
// the same pipeline, and listed by reflection. Its reading methods need the
// named scope "admin.read", key management "admin" (the (switchboard.v1.scope)
// option in its proto); procedure patterns never grant them, and a key can
// only create keys within its own scopes.
//
// What it must not do: run SQL of its own (every query is in package store),
// return a key's secret other than once from CreateApiKey, or grant a scope
// its caller does not hold.
package admin

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect/v2"
	"github.com/uptrace/bun"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboardkit/switchboard"
	"github.com/switchboardkit/switchboard/events"
	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
	"github.com/switchboardkit/switchboard/gen/switchboard/admin/v1/adminv1connect"
	"github.com/switchboardkit/switchboard/interceptors/auth"
	"github.com/switchboardkit/switchboard/interceptors/limit"
	"github.com/switchboardkit/switchboard/interceptors/requestlog"
	"github.com/switchboardkit/switchboard/internal/callctx"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/validate"
)

// Config is what the admin API reads and acts through. DB and RPC are
// required; a nil LogWriter or Limits reports zeros.
type Config struct {
	// DB is a read handle (the server's read pool).
	DB *bun.DB
	// RPC is the registry: the methods the API lists.
	RPC *connect.Server
	// Access is the auth configuration, to show each method's access.
	Access auth.Config
	// Keys creates and revokes API keys.
	Keys *auth.APIKeys
	// Events feeds WatchRequestLogs.
	Events    *events.Bus
	LogWriter *store.LogWriter
	Limits    *limit.Counters
}

// New returns the admin API; register it with
// adminv1connect.RegisterAdminServiceHandler.
func New(cfg Config) adminv1connect.AdminServiceHandler {
	if cfg.Limits == nil {
		cfg.Limits = new(limit.Counters)
	}
	return &service{cfg: cfg}
}

type service struct {
	cfg Config
}

const maxWindow = 400 * 24 * time.Hour

// window resolves a Window: the last hour by default.
func window(w *adminv1.Window) (from, to time.Time, err error) {
	to = time.Now().UTC()
	if w.GetTo() != nil {
		to = w.GetTo().AsTime()
	}
	switch {
	case w.GetFrom() != nil:
		from = w.GetFrom().AsTime()
	case w.GetLast() != nil:
		from = to.Add(-w.GetLast().AsDuration())
	default:
		from = to.Add(-time.Hour)
	}
	if !from.Before(to) || to.Sub(from) > maxWindow {
		return from, to, validate.Fieldf("window", "range", "must end after it starts and span at most 400 days")
	}
	return from, to, nil
}

func statsProto(st *store.Stats) *adminv1.Stats {
	return &adminv1.Stats{
		Count:         st.Count,
		ByCode:        st.ByCode,
		ErrorRate:     st.ErrorRate(),
		AvgLatency:    durationpb.New(st.AvgLatency()),
		P50Latency:    durationpb.New(st.Percentile(0.50)),
		P95Latency:    durationpb.New(st.Percentile(0.95)),
		P99Latency:    durationpb.New(st.Percentile(0.99)),
		RequestBytes:  st.RequestBytes,
		ResponseBytes: st.ResponseBytes,
	}
}

func (a *service) GetOverview(ctx context.Context, req *adminv1.GetOverviewRequest) (*adminv1.GetOverviewResponse, error) {
	from, to, err := window(req.GetWindow())
	if err != nil {
		return nil, err
	}
	byProc, err := store.StatsByProcedure(ctx, a.cfg.DB, from, to)
	if err != nil {
		return nil, err
	}
	total := store.SumStats(byProc)
	stats := statsProto(total)
	// Latency over unary calls only: a stream's duration is how long its
	// client watched, not how fast the server answered.
	unary := map[string]*store.Stats{}
	for spec := range a.cfg.RPC.Specs() {
		proc := strings.TrimPrefix(spec.Procedure, "/")
		if st, ok := byProc[proc]; ok && spec.StreamType == connect.StreamTypeUnary {
			unary[proc] = st
		}
	}
	lat := statsProto(store.SumStats(unary))
	stats.AvgLatency, stats.P50Latency, stats.P95Latency, stats.P99Latency = lat.AvgLatency, lat.P50Latency, lat.P95Latency, lat.P99Latency
	var ws store.WriterStats
	if a.cfg.LogWriter != nil {
		ws = a.cfg.LogWriter.Stats()
	}
	return &adminv1.GetOverviewResponse{
		Stats:          stats,
		CallsPerMinute: float64(total.Count) / to.Sub(from).Minutes(),
		From:           timestamppb.New(from),
		To:             timestamppb.New(to),
		LogWritten:     ws.Written,
		LogDropped:     ws.Dropped,
		LogFailed:      ws.Failed,
		LogQueued:      int64(ws.Queued),
		InFlight:       a.cfg.Limits.InFlight(),
	}, nil
}

// methods lists the registered methods with their stats over w (zero when
// never called), sorted by procedure, and returns the per-procedure stats it
// read.
func (a *service) methods(ctx context.Context, w *adminv1.Window) ([]*adminv1.Method, map[string]*store.Stats, error) {
	from, to, err := window(w)
	if err != nil {
		return nil, nil, err
	}
	byProc, err := store.StatsByProcedure(ctx, a.cfg.DB, from, to)
	if err != nil {
		return nil, nil, err
	}
	policy := auth.Policy{Public: a.cfg.Access.Public, Protected: a.cfg.Access.Protected}
	var out []*adminv1.Method
	for spec := range a.cfg.RPC.Specs() {
		proc := strings.TrimPrefix(spec.Procedure, "/")
		service, name, _ := strings.Cut(proc, "/")
		st, ok := byProc[proc]
		if !ok {
			st = store.SumStats(nil)
		}
		access := "protected"
		if policy.IsPublic(spec) {
			access = "public"
		}
		out = append(out, &adminv1.Method{
			Procedure: proc, Service: service, Name: name,
			StreamType: requestlog.StreamType(spec.StreamType), Access: access, Stats: statsProto(st),
		})
	}
	slices.SortFunc(out, func(x, y *adminv1.Method) int { return strings.Compare(x.GetProcedure(), y.GetProcedure()) })
	return out, byProc, nil
}

func (a *service) ListServices(ctx context.Context, req *adminv1.ListServicesRequest) (*adminv1.ListServicesResponse, error) {
	methods, byProc, err := a.methods(ctx, req.GetWindow())
	if err != nil {
		return nil, err
	}
	byService := map[string]map[string]*store.Stats{}
	for _, m := range methods {
		if byService[m.GetService()] == nil {
			byService[m.GetService()] = map[string]*store.Stats{}
		}
		if st, ok := byProc[m.GetProcedure()]; ok {
			byService[m.GetService()][m.GetProcedure()] = st
		}
	}
	res := &adminv1.ListServicesResponse{Methods: methods}
	for name, procs := range byService {
		res.Services = append(res.Services, &adminv1.Service{Name: name, Stats: statsProto(store.SumStats(procs))})
	}
	slices.SortFunc(res.Services, func(x, y *adminv1.Service) int { return strings.Compare(x.GetName(), y.GetName()) })
	return res, nil
}

func (a *service) GetMethodStats(ctx context.Context, req *adminv1.GetMethodStatsRequest) (*adminv1.GetMethodStatsResponse, error) {
	methods, _, err := a.methods(ctx, req.GetWindow())
	if err != nil {
		return nil, err
	}
	want := strings.TrimPrefix(req.GetProcedure(), "/")
	for _, m := range methods {
		if m.GetProcedure() == want {
			return &adminv1.GetMethodStatsResponse{Method: m}, nil
		}
	}
	return nil, connect.Errorf(connect.CodeNotFound, "no method %q is registered", req.GetProcedure())
}

func (a *service) GetTimeline(ctx context.Context, req *adminv1.GetTimelineRequest) (*adminv1.GetTimelineResponse, error) {
	from, to, err := window(req.GetWindow())
	if err != nil {
		return nil, err
	}
	step := store.TimelineStep(to.Sub(from))
	procedure := strings.TrimPrefix(req.GetProcedure(), "/")
	if procedure == "" && req.GetService() != "" {
		procedure = req.GetService() + "/"
	}
	points, err := store.Timeline(ctx, a.cfg.DB, procedure, from, to, step)
	if err != nil {
		return nil, err
	}
	res := &adminv1.GetTimelineResponse{Step: durationpb.New(step)}
	for _, p := range points {
		res.Points = append(res.Points, &adminv1.TimelinePoint{Start: timestamppb.New(p.Start), Stats: statsProto(p.Stats)})
	}
	return res, nil
}

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
		ErrorDetails: r.ErrorDetails,
	}
}

func (a *service) ListRequestLogs(ctx context.Context, req *adminv1.ListRequestLogsRequest) (*adminv1.ListRequestLogsResponse, error) {
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

func (a *service) GetRequestLog(ctx context.Context, req *adminv1.GetRequestLogRequest) (*adminv1.GetRequestLogResponse, error) {
	row, err := store.FindRequestLog(ctx, a.cfg.DB, req.GetRequestId())
	if err != nil {
		return nil, connect.Errorf(connect.CodeNotFound, "no request log with request id %q", req.GetRequestId()).WithCause(err)
	}
	return &adminv1.GetRequestLogResponse{Log: logProto(row)}, nil
}

func (a *service) WatchRequestLogs(ctx context.Context, req *adminv1.WatchRequestLogsRequest, stream adminv1connect.AdminServiceWatchRequestLogsServerStream) error {
	calls := make(chan *store.RequestLog, 256)
	if a.cfg.Events == nil {
		return connect.Errorf(connect.CodeUnimplemented, "this server publishes no call events")
	}
	sub := a.cfg.Events.Subscribe(256, func(ev events.Event) {
		if ev.Kind != events.CallFinished || !matchesWatch(req, ev.Call) {
			return
		}
		select {
		case calls <- ev.Call:
		default: // the tail is best effort: a slow viewer misses lines
		}
	})
	defer sub.Close()
	if err := stream.SendHeaders(); err != nil {
		return err
	}
	drain := callctx.Drain(ctx)
	for {
		select {
		case rec := <-calls:
			if err := stream.Send(&adminv1.WatchRequestLogsResponse{Log: logProto(rec)}); err != nil {
				return err
			}
		case <-drain:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func matchesWatch(req *adminv1.WatchRequestLogsRequest, rec *store.RequestLog) bool {
	return (req.GetService() == "" || req.GetService() == rec.Service) &&
		(req.GetMethod() == "" || req.GetMethod() == rec.Method) &&
		(req.GetCode() == "" || req.GetCode() == rec.Code) &&
		(!req.GetErrorsOnly() || rec.Code != "ok")
}

func keyProto(k *store.APIKey, now time.Time) *adminv1.ApiKey {
	out := &adminv1.ApiKey{Id: k.ID, Name: k.Name, Scopes: k.Scopes, CreateTime: timestamppb.New(k.CreatedAt), Status: "active"}
	if !k.ExpiresAt.IsZero() {
		out.ExpireTime = timestamppb.New(k.ExpiresAt)
		if !now.Before(k.ExpiresAt) {
			out.Status = "expired"
		}
	}
	if !k.RevokedAt.IsZero() {
		out.RevokeTime, out.Status = timestamppb.New(k.RevokedAt), "revoked"
	}
	if !k.LastUsedAt.IsZero() {
		out.LastUsedTime = timestamppb.New(k.LastUsedAt)
	}
	return out
}

func (a *service) ListApiKeys(ctx context.Context, _ *adminv1.ListApiKeysRequest) (*adminv1.ListApiKeysResponse, error) {
	keys, err := store.ListAPIKeys(ctx, a.cfg.DB)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	res := &adminv1.ListApiKeysResponse{}
	for _, k := range keys {
		res.Keys = append(res.Keys, keyProto(k, now))
	}
	return res, nil
}

func (a *service) CreateApiKey(ctx context.Context, req *adminv1.CreateApiKeyRequest) (*adminv1.CreateApiKeyResponse, error) {
	var verr validate.Error
	if strings.TrimSpace(req.GetName()) == "" || len(req.GetName()) > 100 {
		verr.Violations = append(verr.Violations, validate.Violation{Field: "name", Rule: "required", Description: "must be 1 to 100 characters"})
	}
	if len(req.GetScopes()) == 0 {
		verr.Violations = append(verr.Violations, validate.Violation{Field: "scopes", Rule: "required", Description: "at least one scope"})
	}
	for i, scope := range req.GetScopes() {
		if err := switchboard.ValidateScope(scope); err != nil {
			verr.Violations = append(verr.Violations, validate.Violation{Field: fmt.Sprintf("scopes[%d]", i), Rule: "scope", Description: err.Error()})
		}
	}
	if req.GetTtl().AsDuration() < 0 {
		verr.Violations = append(verr.Violations, validate.Violation{Field: "ttl", Rule: "gte", Description: "must not be negative"})
	}
	if len(verr.Violations) > 0 {
		return nil, &verr
	}
	// A key grants only what its creator holds: no minting of "*" or "admin"
	// from a narrower key.
	caller := switchboard.PrincipalFromContext(ctx)
	for _, scope := range req.GetScopes() {
		if !caller.Covers(scope) {
			return nil, &scopeNotHeldError{scope: scope}
		}
	}
	ttl, err := a.boundedTTL(ctx, caller, req.GetTtl().AsDuration())
	if err != nil {
		return nil, err
	}
	secret, key, err := a.cfg.Keys.Create(ctx, req.GetName(), req.GetScopes(), ttl)
	if err != nil {
		return nil, err
	}
	return &adminv1.CreateApiKeyResponse{Key: keyProto(key, time.Now()), Secret: secret}, nil
}

func (a *service) RevokeApiKey(ctx context.Context, req *adminv1.RevokeApiKeyRequest) (*adminv1.RevokeApiKeyResponse, error) {
	if err := a.cfg.Keys.Revoke(ctx, req.GetId()); err != nil {
		if errors.Is(err, store.ErrKeyNotFound) {
			return nil, connect.Errorf(connect.CodeNotFound, "no API key with id %q", req.GetId())
		}
		return nil, err
	}
	key, err := store.FindAPIKey(ctx, a.cfg.DB, req.GetId())
	if err != nil {
		return nil, err
	}
	return &adminv1.RevokeApiKeyResponse{Key: keyProto(key, time.Now())}, nil
}

func (a *service) ListInstances(ctx context.Context, _ *adminv1.ListInstancesRequest) (*adminv1.ListInstancesResponse, error) {
	rows, err := store.ListInstances(ctx, a.cfg.DB)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	res := &adminv1.ListInstancesResponse{}
	for _, r := range rows {
		res.Instances = append(res.Instances, &adminv1.Instance{
			Id: r.ID, Host: r.Host, Address: r.Address, Version: r.Version,
			StartTime: timestamppb.New(r.StartedAt), LastSeenTime: timestamppb.New(r.LastSeenAt),
			InFlight: r.InFlight, Up: r.Up(now),
		})
	}
	return res, nil
}

// boundedTTL keeps a new key from outliving the key that creates it: with
// an expiring creator, no ttl (never expires) or a longer one becomes the
// creator's remaining lifetime. A caller that is no stored key (a client
// certificate) is not bound by it.
func (a *service) boundedTTL(ctx context.Context, caller *switchboard.Principal, ttl time.Duration) (time.Duration, error) {
	if caller == nil {
		return ttl, nil
	}
	creator, err := store.FindAPIKey(ctx, a.cfg.DB, caller.KeyID)
	if errors.Is(err, store.ErrKeyNotFound) {
		return ttl, nil
	}
	if err != nil {
		return 0, err
	}
	if creator.ExpiresAt.IsZero() {
		return ttl, nil
	}
	left := time.Until(creator.ExpiresAt)
	if left <= 0 {
		return 0, fmt.Errorf("the creating key has expired: %w", switchboard.ErrPermissionDenied)
	}
	if ttl == 0 || ttl > left {
		return left, nil
	}
	return ttl, nil
}

// ReasonScopeNotHeld is the ErrorInfo reason of a CreateApiKey call that asks
// for a scope its caller does not hold.
const ReasonScopeNotHeld = "SCOPE_NOT_HELD"

type scopeNotHeldError struct{ scope string }

func (e *scopeNotHeldError) Error() string { return "scope not held: " + e.scope }

func (e *scopeNotHeldError) RPCStatus() (connect.Code, string, string) {
	return connect.CodePermissionDenied, ReasonScopeNotHeld,
		fmt.Sprintf("a key can only grant scopes its creator holds; %q is not among the caller's scopes", e.scope)
}
