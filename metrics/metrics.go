// Package metrics keeps the kit's Prometheus metrics, served at /metrics
// with prometheus/client_golang. The RPC series are fed from the request
// log's record of each finished call (Metrics is a requestlog.Sink) — the
// same record the log writes, so the numbers agree — rather than by another
// interceptor. Label values are bounded: procedures are the registered ones
// (anything else is "unknown"), codes are Connect's, protocols are the three RPC protocols and REST.
// Every registered procedure's series exist from the start, so a method that
// was never called shows zeros instead of being absent.
//
// What it must not do: take a label value from the caller (a procedure that
// is not registered is "unknown"), or block the call it records.
package metrics

import (
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboardkit/switchboard/interceptors/limit"
	"github.com/switchboardkit/switchboard/interceptors/requestlog"
	"github.com/switchboardkit/switchboard/store"
)

// Metrics is the registry and the series. Build it with New.
type Metrics struct {
	registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	dbWrite    prometheus.Histogram
	procedures map[string]bool
}

var protocols = []string{connect.ProtocolNameConnect, connect.ProtocolNameGRPC, connect.ProtocolNameGRPCWeb, requestlog.ProtocolREST}

// New returns the metrics with the Go and process collectors and the RPC
// series; WatchLimits and WatchLogWriter add the gauges of those parts.
func New() *Metrics {
	buckets := make([]float64, len(store.LatencyBounds))
	for i, b := range store.LatencyBounds {
		buckets[i] = b.Seconds()
	}
	m := &Metrics{
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
	m.registry.MustRegister(m.requests, m.duration, m.dbWrite,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchLimits adds the limiter's gauges: calls in flight, refused, streams.
func (m *Metrics) WatchLimits(c *limit.Counters) {
	m.registry.MustRegister(
		gauge("switchboard_rpc_in_flight", "RPCs running now.", c.InFlight),
		counter("switchboard_rpc_overload_rejected_total", "RPCs refused at a limit of concurrent calls or open streams.", c.Rejected),
		gauge("switchboard_rpc_streams_open", "Streaming RPCs open now.", c.Streams),
	)
}

// WatchLogWriter adds the request log writer's gauges and counters.
func (m *Metrics) WatchLogWriter(w *store.LogWriter) {
	stat := func(pick func(store.WriterStats) int64) func() int64 {
		return func() int64 { return pick(w.Stats()) }
	}
	m.registry.MustRegister(
		gauge("switchboard_request_log_spill_bytes", "Request-log batches waiting on local disk for the database, in bytes.",
			stat(func(st store.WriterStats) int64 { return st.Spill.PendingBytes })),
		counter("switchboard_request_log_spilled_total", "Request-log rows spilled to local disk while the database was unavailable.",
			stat(func(st store.WriterStats) int64 { return st.Spill.Spilled })),
		counter("switchboard_request_log_counted_only_total", "Failed calls past their peer's row budget: in the statistics, without a row.",
			stat(func(st store.WriterStats) int64 { return st.Counted })),
		gauge("switchboard_request_log_queue_depth", "Request-log records waiting to be written.",
			stat(func(st store.WriterStats) int64 { return int64(st.Queued) })),
		counter("switchboard_request_log_written_total", "Request-log rows written.",
			stat(func(st store.WriterStats) int64 { return st.Written })),
		counter("switchboard_request_log_dropped_total", "Request-log records dropped because the queue was full.",
			stat(func(st store.WriterStats) int64 { return st.Dropped })),
		counter("switchboard_request_log_failed_total", "Request-log rows lost to database errors.",
			stat(func(st store.WriterStats) int64 { return st.Failed })),
	)
}

// Preregister creates every procedure's series registered on rpc at zero;
// call it once every service is registered, before serving.
func (m *Metrics) Preregister(rpc *connect.Server) {
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

// Record counts a finished call (Metrics is a requestlog.Sink): every call,
// with or without a row of its own.
func (m *Metrics) Record(rec *store.RequestLog, _ bool) {
	proc := rec.Procedure
	if !m.procedures[proc] {
		proc = "unknown"
	}
	m.requests.WithLabelValues(proc, rec.Code, rec.Protocol).Inc()
	m.duration.WithLabelValues(proc, rec.Protocol).Observe((time.Duration(rec.DurationMicros) * time.Microsecond).Seconds())
}

// ObserveWrite times a request-log batch (Metrics is a store.WriteObserver).
func (m *Metrics) ObserveWrite(_ int, took time.Duration, _ error) { m.dbWrite.Observe(took.Seconds()) }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

func gauge(name, help string, read func() int64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return float64(read()) })
}

func counter(name, help string, read func() int64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(read()) })
}
