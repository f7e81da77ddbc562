package kit

// Prometheus metrics at /metrics, with prometheus/client_golang. The RPC
// series are fed from the request log's record of each finished call — the
// same record the log writes, so the numbers agree — rather than by another
// interceptor. Label values are bounded: procedures are the registered ones
// (anything else is "unknown"), codes are Connect's, protocols are three.
// Every registered procedure's series exist from the start, so a method that
// was never called shows zeros instead of being absent.

import (
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboardkit/switchboard/store"
)

type metrics struct {
	registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	dbWrite    prometheus.Histogram
	procedures map[string]bool
}

var protocols = []string{connect.ProtocolNameConnect, connect.ProtocolNameGRPC, connect.ProtocolNameGRPCWeb}

func newMetrics(s *Server) *metrics {
	buckets := make([]float64, len(store.LatencyBounds))
	for i, b := range store.LatencyBounds {
		buckets[i] = b.Seconds()
	}
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_rpc_requests_total",
			Help: "Finished RPCs by procedure, status code and protocol.",
		}, []string{"procedure", "code", "protocol"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_rpc_duration_seconds",
			Help:    "RPC duration by procedure and protocol.",
			Buckets: buckets,
		}, []string{"procedure", "protocol"}),
		dbWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_request_log_write_seconds",
			Help:    "Duration of one request-log batch transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	stat := func(pick func(written, dropped, failed int64, queued int) float64) func() float64 {
		return func() float64 { return pick(s.logWriter.Stats()) }
	}
	m.registry.MustRegister(
		m.requests, m.duration, m.dbWrite,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "switchboard_rpc_in_flight", Help: "RPCs running now.",
		}, func() float64 { running, _ := s.InFlight(); return float64(running) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "switchboard_rpc_overload_rejected_total", Help: "RPCs refused at a limit of concurrent calls or open streams.",
		}, func() float64 { _, rejected := s.InFlight(); return float64(rejected) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "switchboard_rpc_streams_open", Help: "Streaming RPCs open now.",
		}, func() float64 { return float64(s.limiter.Streams()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "switchboard_request_log_spill_bytes", Help: "Request-log batches waiting on local disk for the database, in bytes.",
		}, func() float64 { return float64(s.logWriter.Spill().PendingBytes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "switchboard_request_log_spilled_total", Help: "Request-log rows spilled to local disk while the database was unavailable.",
		}, func() float64 { return float64(s.logWriter.Spill().Spilled) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "switchboard_request_log_counted_only_total", Help: "Failed calls past their peer's row budget: in the statistics, without a row.",
		}, func() float64 { return float64(s.logWriter.Counted()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "switchboard_request_log_queue_depth", Help: "Request-log records waiting to be written.",
		}, stat(func(_, _, _ int64, q int) float64 { return float64(q) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "switchboard_request_log_written_total", Help: "Request-log rows written.",
		}, stat(func(w, _, _ int64, _ int) float64 { return float64(w) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "switchboard_request_log_dropped_total", Help: "Request-log records dropped because the queue was full.",
		}, stat(func(_, d, _ int64, _ int) float64 { return float64(d) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "switchboard_request_log_failed_total", Help: "Request-log rows lost to database errors.",
		}, stat(func(_, _, f int64, _ int) float64 { return float64(f) })),
	)
	return m
}

// preregister creates every registered procedure's series at zero.
func (m *metrics) preregister(rpc *connect.Server) {
	m.procedures = map[string]bool{}
	for spec := range rpc.Specs() {
		proc := strings.TrimPrefix(spec.Procedure, "/")
		m.procedures[proc] = true
		for _, p := range protocols {
			m.requests.WithLabelValues(proc, "ok", p)
			m.duration.WithLabelValues(proc, p)
		}
	}
}

func (m *metrics) observe(rec *store.RequestLog) {
	proc := rec.Procedure
	if !m.procedures[proc] {
		proc = "unknown"
	}
	m.requests.WithLabelValues(proc, rec.Code, rec.Protocol).Inc()
	m.duration.WithLabelValues(proc, rec.Protocol).Observe((time.Duration(rec.DurationMicros) * time.Microsecond).Seconds())
}

func (m *metrics) onWrite(_ int, took time.Duration, _ error) { m.dbWrite.Observe(took.Seconds()) }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}
