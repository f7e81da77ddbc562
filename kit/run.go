package kit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect/v2/connecthttp"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboardkit/switchboard/cluster"
	"github.com/switchboardkit/switchboard/health"
	"github.com/switchboardkit/switchboard/internal/callctx"
	"github.com/switchboardkit/switchboard/rest"
)

// Run serves until ctx ends, then shuts down gracefully:
//  1. health turns NOT_SERVING for the server and every service;
//  2. after ShutdownDelay, the listener closes and new calls are refused,
//     while ShuttingDown(ctx) fires in every handler so streams can end
//     cleanly;
//  3. in-flight calls get ShutdownGrace to finish; then their contexts are
//     cancelled and remaining connections closed;
//  4. Run waits for every handler to return — a handler whose client went
//     away outlives its connection — for what is left of ShutdownGrace, and
//     at least a second after cancelling them, so each call's record is made;
//  5. queued request-log records are written (bounded by ShutdownGrace) and
//     API-key last-use times flushed;
//  6. the database closes.
//
// Run returns nil after a shutdown caused by ctx, or the error that stopped
// the listener.
func (s *Server) Run(ctx context.Context) error {
	defer flushLog(&s.cfg) // last: after Close's own lines
	defer s.Close()
	var ln net.Listener = s.ln
	if s.cfg.ReadBufferBytes > 0 || s.cfg.CoalesceWrites {
		ln = listener{s.ln, s.cfg.ReadBufferBytes, s.cfg.CoalesceWrites}
	}
	connecthttp.Mount(s.mux, s.rpc, s.transportOptions()...)
	s.front = s.mux
	if s.cfg.REST {
		routes, err := rest.New(s.rpc, s.mux, rest.Config{MaxRequestBytes: s.cfg.MaxReceiveBytes, MaxResponseBytes: s.cfg.MaxSendBytes})
		if err != nil {
			return fmt.Errorf("kit: %w", err)
		}
		s.front = routes
	}
	// Read every request message's (switchboard.v1.rules) now, not on the
	// first call.
	var requests []protoreflect.MessageDescriptor
	for spec := range s.rpc.Specs() {
		if method, ok := spec.Schema.(protoreflect.MethodDescriptor); ok {
			requests = append(requests, method.Input())
		}
	}
	s.validator.RegisterMessages(requests...)
	if s.metrics != nil {
		s.metrics.Preregister(s.rpc)
		s.mux.Handle("GET /metrics", s.metrics.Handler())
	}

	baseCtx, cancelCalls := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelCalls(callctx.ErrShuttingDown)
	drain := make(chan struct{})
	baseCtx = callctx.WithDrain(baseCtx, drain)
	httpServer := s.httpServer(baseCtx)

	s.logWriter.Start()
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	background.Go(func() { s.keys.Run(bgCtx) })
	if s.admin != nil {
		background.Go(func() { s.admin.Run(bgCtx) })
	}
	if bus, ok := s.cluster.(*cluster.Postgres); ok {
		background.Go(func() {
			if err := bus.Run(bgCtx); err != nil {
				s.log.Error("cluster bus stopped", "error", err)
			}
		})
		// Serve once the bus listens: what other replicas publish from then
		// on reaches this one.
		select {
		case <-bus.Listening():
		case <-time.After(10 * time.Second):
			s.log.Warn("cluster bus: not listening after 10s; serving anyway (its subscribers resync once it listens)")
		case <-ctx.Done():
		}
		bus.MarkServing() // a first listen from now on is a gap
	}
	s.addr = ln.Addr()
	s.firstAdminKey(ctx)
	s.markServing()                   // before the first heartbeat, which may say otherwise
	background.Go(s.heartbeat(bgCtx)) // the row exists from here: a stop marks it
	defer s.relayInstances()()
	s.announce("up")
	defer func() {
		stopBackground()
		background.Wait()
		s.flushLogs()
	}()

	close(s.ready)
	s.log.Info("listening", "addr", s.addr.String(), "tls", s.tls != nil,
		"protocols", "connect,grpc,grpcweb", "reflection", s.cfg.Reflection)

	served := make(chan error, 1)
	go func() {
		if s.tls != nil {
			served <- httpServer.ServeTLS(ln, "", "")
		} else {
			served <- httpServer.Serve(ln)
		}
	}()

	select {
	case err := <-served:
		s.health.SetAll(health.NotServing)
		return fmt.Errorf("kit: serve: %w", err)
	case <-ctx.Done():
	}
	s.shutdown(httpServer, drain, cancelCalls)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("kit: serve: %w", err)
	}
	return nil
}

func (s *Server) shutdown(httpServer *http.Server, drain chan struct{}, cancelCalls context.CancelCauseFunc) {
	s.dbHealth.stop()
	s.health.SetAll(health.NotServing)
	s.announce("down")
	s.log.Info("shutting down", "delay", s.cfg.ShutdownDelay, "grace", s.cfg.ShutdownGrace)
	if s.cfg.ShutdownDelay > 0 {
		time.Sleep(s.cfg.ShutdownDelay)
	}
	close(drain)
	deadline := time.Now().Add(s.cfg.ShutdownGrace)
	graceCtx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	err := httpServer.Shutdown(graceCtx)
	// Connections are idle or gone; handlers may still run (their clients
	// left). Give them what is left of the grace period.
	if err == nil && !s.handlers.wait(time.Until(deadline)) {
		err = context.DeadlineExceeded
	}
	if err != nil {
		s.log.Warn("shutdown grace expired; cancelling in-flight calls", "grace", s.cfg.ShutdownGrace,
			"handlers", s.handlers.running())
		cancelCalls(callctx.ErrShuttingDown)
		_ = httpServer.Close()
		if !s.handlers.wait(time.Second) {
			s.log.Error("handlers still running after cancellation; their calls are not logged",
				"handlers", s.handlers.running())
		}
	}
}

// flushLogs writes every queued request-log record; the calls have all ended
// by now, so none is lost unless the database stays down for longer than the
// shutdown grace period.
func (s *Server) flushLogs() {
	ctx, cancel := context.WithTimeout(context.Background(), max(s.cfg.ShutdownGrace, time.Second))
	defer cancel()
	if err := s.logWriter.Close(ctx); err != nil {
		s.log.Error("request log: flush did not finish", "error", err)
	}
	st := s.logWriter.Stats()
	s.log.Info("stopped", "logged", st.Written, "dropped", st.Dropped, "failed", st.Failed, "unflushed", st.Queued)
}

// markServing sets the server and every registered service to SERVING.
func (s *Server) markServing() {
	for _, name := range s.serviceNames() {
		s.health.Set(name, health.Serving)
	}
	s.health.Set("", health.Serving)
}

// serviceNames lists the fully-qualified names of the registered services.
func (s *Server) serviceNames() []string {
	seen := map[string]bool{}
	var names []string
	for spec := range s.rpc.Specs() {
		method, ok := spec.Schema.(protoreflect.MethodDescriptor)
		if !ok {
			continue
		}
		name := string(method.Parent().FullName())
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// serveHealthz answers plain HTTP probes: 200 while the server is serving,
// 503 otherwise.
func (s *Server) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if status, _ := s.health.Get(""); status != health.Serving {
		w.WriteHeader(http.StatusServiceUnavailable)
		if !s.dbHealth.writable() {
			_, _ = fmt.Fprintln(w, "not serving: the database cannot write")
			return
		}
		_, _ = fmt.Fprintln(w, "not serving")
		return
	}
	_, _ = fmt.Fprintln(w, "ok")
}
