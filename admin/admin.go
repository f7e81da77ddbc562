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
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect/v2"
	"github.com/uptrace/bun"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboardkit/switchboard/cluster"
	"github.com/switchboardkit/switchboard/events"
	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
	"github.com/switchboardkit/switchboard/gen/switchboard/admin/v1/adminv1connect"
	"github.com/switchboardkit/switchboard/interceptors/auth"
	"github.com/switchboardkit/switchboard/interceptors/limit"
	"github.com/switchboardkit/switchboard/interceptors/requestlog"
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
	// Keys creates and revokes API keys; without it CreateApiKey and
	// RevokeApiKey are UNIMPLEMENTED.
	Keys *auth.APIKeys
	// Events and Cluster feed WatchRequestLogs, which tails the calls of
	// every replica; without both, it is UNIMPLEMENTED. Run ships this
	// replica's calls while someone watches.
	Events  *events.Bus
	Cluster cluster.Bus
	// LogWriter and Limits feed the overview's counters (zeros without).
	LogWriter *store.LogWriter
	Limits    *limit.Counters
}

// New returns the admin API; register it with
// adminv1connect.RegisterAdminServiceHandler, on a server whose chain has
// the auth interceptor: the API's scopes ("admin.read" to read, "admin" to
// manage keys) are declared in its proto and enforced there, not here.
func New(cfg Config) *Service {
	if cfg.Limits == nil {
		cfg.Limits = new(limit.Counters)
	}
	s := &Service{cfg: cfg}
	if cfg.Events != nil && cfg.Cluster != nil {
		s.tail = newTail(cfg.Cluster, cfg.Events)
	}
	return s
}

// Service is the admin API. Run it for the live tail to ship this
// replica's calls.
type Service struct {
	cfg  Config
	tail *tail // nil without a cluster bus
}

var _ adminv1connect.AdminServiceHandler = (*Service)(nil)

// Run ships this replica's finished calls to the fleet's live-tail viewers
// while there are any, until ctx ends.
func (a *Service) Run(ctx context.Context) {
	if a.tail != nil {
		a.tail.run(ctx)
	}
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

func (a *Service) GetOverview(ctx context.Context, req *adminv1.GetOverviewRequest) (*adminv1.GetOverviewResponse, error) {
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
func (a *Service) methods(ctx context.Context, w *adminv1.Window) ([]*adminv1.Method, map[string]*store.Stats, error) {
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

func (a *Service) ListServices(ctx context.Context, req *adminv1.ListServicesRequest) (*adminv1.ListServicesResponse, error) {
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

func (a *Service) GetMethodStats(ctx context.Context, req *adminv1.GetMethodStatsRequest) (*adminv1.GetMethodStatsResponse, error) {
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

func (a *Service) GetTimeline(ctx context.Context, req *adminv1.GetTimelineRequest) (*adminv1.GetTimelineResponse, error) {
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
