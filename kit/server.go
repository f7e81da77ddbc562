package kit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectgzip"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/grpcreflect/v2"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboardkit/switchboard/kit/store"
)

// Server serves the methods registered on its *connect.Server over gRPC,
// gRPC-Web and the Connect protocol on one port. Build it with New, register
// services on RPC(), then call Run.
type Server struct {
	cfg    Config
	log    *slog.Logger
	db     *bun.DB
	rpc    *connect.Server
	mux    *http.ServeMux
	health *health
	tls    *tls.Config

	ready     chan struct{}
	addr      net.Addr
	closeOnce sync.Once
}

// Option configures New.
type Option func(*options)

type options struct {
	logger       *slog.Logger
	migrations   []namedMigrations
	interceptors []connect.ServerInterceptor
}

type namedMigrations struct {
	name string
	set  *migrate.Migrations
}

// WithLogger sets the logger for the server's own events; the default is
// slog.Default().
func WithLogger(logger *slog.Logger) Option {
	return func(o *options) { o.logger = logger }
}

// WithMigrations adds an application's bun migrations, applied by New under
// their own bookkeeping tables (name_migrations). Sets run in the order given.
func WithMigrations(name string, migrations *migrate.Migrations) Option {
	return func(o *options) { o.migrations = append(o.migrations, namedMigrations{name, migrations}) }
}

// WithInterceptors adds server interceptors around every method; they run in
// the order given, outermost first.
func WithInterceptors(interceptors ...connect.ServerInterceptor) Option {
	return func(o *options) { o.interceptors = append(o.interceptors, interceptors...) }
}

// New checks cfg, loads the TLS certificate if one is configured, opens the
// database and applies migrations. Any failure is returned: the server never
// starts half-configured, and never serves plaintext in place of TLS.
func New(cfg Config, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{
		cfg:    cfg,
		log:    o.logger,
		rpc:    connect.NewServer(o.interceptors...),
		mux:    http.NewServeMux(),
		health: newHealth(),
		ready:  make(chan struct{}),
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("kit: load TLS certificate: %w", err)
		}
		s.tls = &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		}
	}
	if err := s.health.register(s.rpc); err != nil {
		return nil, err
	}
	if cfg.Reflection {
		grpcreflect.Register(s.rpc)
	}
	s.mux.HandleFunc("GET /healthz", s.serveHealthz)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, cfg.DSN, store.Options{MaxOpenConns: cfg.DBMaxOpenConns})
	if err != nil {
		return nil, err
	}
	s.db = db
	for _, m := range o.migrations {
		applied, err := store.Migrate(ctx, db, m.name, m.set)
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		if len(applied) > 0 {
			s.log.Info("applied migrations", "set", m.name, "migrations", applied)
		}
	}
	return s, nil
}

// RPC returns the registry of every method the server serves. Register
// services on it with their generated RegisterXHandler functions before Run.
func (s *Server) RPC() *connect.Server { return s.rpc }

// DB returns the database handle. It is closed when Run returns.
func (s *Server) DB() *bun.DB { return s.db }

// Handle registers a plain HTTP handler on the same port, beside the RPC
// routes (for example a web page at "/").
func (s *Server) Handle(pattern string, handler http.Handler) { s.mux.Handle(pattern, handler) }

// Ready is closed once the listener is bound; Addr is valid from then on.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the address the server listens on, once Ready is closed.
func (s *Server) Addr() net.Addr {
	<-s.ready
	return s.addr
}

// SetServingStatus reports service (a fully-qualified service name, or "" for
// the whole server) as serving or not through gRPC health checking.
func (s *Server) SetServingStatus(service string, status HealthStatus) {
	s.health.set(service, status)
}

// Close releases the database. Run calls it on return; call it yourself only
// when a Server is built but never run.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.db.Close() })
	return err
}

// Run serves until ctx ends, then shuts down gracefully:
//  1. health turns NOT_SERVING for the server and every service;
//  2. after ShutdownDelay, the listener closes and new calls are refused,
//     while ShuttingDown(ctx) fires in every handler so streams can end
//     cleanly;
//  3. in-flight calls get ShutdownGrace to finish; then their contexts are
//     cancelled and remaining connections closed;
//  4. the database closes.
//
// Run returns nil after a shutdown caused by ctx, or the error that stopped
// the listener.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("kit: listen on %s: %w", s.cfg.Addr, err)
	}
	connecthttp.Mount(s.mux, s.rpc, s.transportOptions()...)

	baseCtx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	drain := make(chan struct{})
	baseCtx = context.WithValue(baseCtx, drainKey{}, (<-chan struct{})(drain))
	httpServer := s.httpServer(baseCtx)

	s.markServing()
	s.addr = ln.Addr()
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
		s.health.setAll(HealthNotServing)
		return fmt.Errorf("kit: serve: %w", err)
	case <-ctx.Done():
	}
	s.shutdown(httpServer, drain, cancelCalls)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("kit: serve: %w", err)
	}
	return nil
}

func (s *Server) shutdown(httpServer *http.Server, drain chan struct{}, cancelCalls context.CancelFunc) {
	s.health.setAll(HealthNotServing)
	s.log.Info("shutting down", "delay", s.cfg.ShutdownDelay, "grace", s.cfg.ShutdownGrace)
	if s.cfg.ShutdownDelay > 0 {
		time.Sleep(s.cfg.ShutdownDelay)
	}
	close(drain)
	graceCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	if err := httpServer.Shutdown(graceCtx); err != nil {
		s.log.Warn("shutdown grace expired; cancelling in-flight calls", "grace", s.cfg.ShutdownGrace)
		cancelCalls()
		_ = httpServer.Close()
	}
	s.log.Info("stopped")
}

func (s *Server) httpServer(baseCtx context.Context) *http.Server {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	if s.tls != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Server{
		Handler:           s.mux,
		Protocols:         protocols,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: s.cfg.MaxConcurrentStreams,
			MaxReadFrameSize:     1 << 20,
		},
		MaxHeaderBytes: 1 << 20,
		BaseContext:    func(net.Listener) context.Context { return baseCtx },
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

func (s *Server) transportOptions() []connecthttp.Option {
	compressors := []connect.Compressor{}
	if s.cfg.Gzip {
		compressors = append(compressors, connectgzip.New())
	}
	return []connecthttp.Option{
		connecthttp.WithReadMaxBytes(s.cfg.MaxMessageBytes),
		connecthttp.WithSendMaxBytes(s.cfg.MaxMessageBytes),
		connecthttp.WithCompressors(compressors...),
		connecthttp.WithCompressMinBytes(s.cfg.CompressMinBytes),
	}
}

// markServing sets the server and every registered service to SERVING.
func (s *Server) markServing() {
	for _, name := range s.serviceNames() {
		s.health.set(name, HealthServing)
	}
	s.health.set("", HealthServing)
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
	if status, _ := s.health.get(""); status != HealthServing {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintln(w, "not serving")
		return
	}
	_, _ = fmt.Fprintln(w, "ok")
}

type drainKey struct{}

// ShuttingDown returns a channel that is closed when the server begins to
// shut down. Long-lived handlers (server streams, watches) select on it to
// end their call cleanly within the shutdown grace period. Outside a kit
// server it returns nil, a channel that never fires.
func ShuttingDown(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(drainKey{}).(<-chan struct{})
	return ch
}
