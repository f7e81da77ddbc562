package kit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectgzip"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/connect/v2/connectproto"
	"connectrpc.com/grpcreflect/v2"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboardkit/switchboard/gen/switchboard/admin/v1/adminv1connect"
	"github.com/switchboardkit/switchboard/interceptors"
	"github.com/switchboardkit/switchboard/kit/adminui"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/validate"
)

// Server serves the methods registered on its *connect.Server over gRPC,
// gRPC-Web and the Connect protocol on one port. Build it with New, register
// services on RPC(), then call Run.
type Server struct {
	cfg    Config
	log    *slog.Logger
	db     *bun.DB
	reader *bun.DB // read-only pool; db itself on PostgreSQL
	rpc    *connect.Server
	mux    *http.ServeMux
	health *health
	tls    *tls.Config

	validator *validate.Engine
	apiKeys   *interceptors.APIKeys // nil when another Authenticator is used
	// clientCerts authenticates TLS client certificates; nil without mTLS.
	clientCerts *interceptors.ClientCerts
	logWriter   *store.LogWriter
	limiter     *interceptors.Limiter
	events      *eventBus
	metrics     *metrics // nil when Config.Metrics is off

	ln       net.Listener // bound by New, served by Run
	handlers *handlerTracker
	dbHealth *dbHealth

	firstKeyOut io.Writer // where the first admin key is printed
	ready       chan struct{}
	addr        net.Addr
	closeOnce   sync.Once
}

// Option configures New.
type Option func(*options)

type options struct {
	logger        *slog.Logger
	migrations    []namedMigrations
	interceptors  []connect.ServerInterceptor
	authenticator interceptors.Authenticator
	validator     *validate.Engine
	observers     []func(*store.RequestLog)
	errorRules    []interceptors.ErrorRule
	tracer        trace.TracerProvider
	firstKeyOut   io.Writer
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

// WithInterceptors adds server interceptors after the kit's own chain
// (interceptors.Default, docs/interceptors.md), closest to the handler, in
// the order given.
func WithInterceptors(list ...connect.ServerInterceptor) Option {
	return func(o *options) { o.interceptors = append(o.interceptors, list...) }
}

// WithAuthenticator replaces the built-in API-key authenticator (for JWTs,
// mTLS identities, …). The access policy and scope checks stay the kit's.
func WithAuthenticator(a interceptors.Authenticator) Option {
	return func(o *options) { o.authenticator = a }
}

// WithTracerProvider turns on tracing: one OpenTelemetry server span per
// call, continuing the caller's W3C trace context (docs/monitoring.md).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

// WithFirstKeyOutput sets where the first admin key is printed (default
// os.Stderr); see Config.FirstAdminKey.
func WithFirstKeyOutput(w io.Writer) Option {
	return func(o *options) { o.firstKeyOut = w }
}

// WithErrorRules adds rows to the error-mapping table, tried before the
// kit's defaults (docs/errors.md).
func WithErrorRules(rules ...interceptors.ErrorRule) Option {
	return func(o *options) { o.errorRules = append(o.errorRules, rules...) }
}

// WithValidator sets the validation engine (default: validate.New(); reach
// it with Server.Validator to register rules).
func WithValidator(engine *validate.Engine) Option {
	return func(o *options) { o.validator = engine }
}

// WithCallObserver calls fn with the record of every finished call, on the
// call's goroutine; fn must be quick and must not block.
func WithCallObserver(fn func(*store.RequestLog)) Option {
	return func(o *options) { o.observers = append(o.observers, fn) }
}

// New checks cfg, loads the TLS certificate if one is configured, binds the
// listener (so a port in use is reported at once), opens the database and
// applies migrations. Any failure is returned: the server never
// starts half-configured, and never serves plaintext in place of TLS.
func New(cfg Config, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{logger: slog.Default(), validator: validate.New(), firstKeyOut: os.Stderr}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{
		cfg:         cfg,
		log:         o.logger,
		mux:         http.NewServeMux(),
		health:      newHealth(),
		validator:   o.validator,
		events:      newEventBus(),
		handlers:    newHandlerTracker(),
		firstKeyOut: o.firstKeyOut,
		ready:       make(chan struct{}),
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
		if err := s.clientAuth(); err != nil {
			return nil, err
		}
	}
	// Bind the port first: a port in use is reported before minutes of
	// migrations, and Run serves on this listener.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("kit: listen on %s: %w (is another server running there? choose another address with -addr)", cfg.Addr, err)
	}
	s.ln = ln
	s.dbHealth = &dbHealth{s: s}
	if err := s.openDB(o.migrations); err != nil {
		_ = ln.Close()
		return nil, err
	}
	chain, err := s.defaultChain(o)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	s.rpc = connect.NewServer(append(chain, o.interceptors...)...)
	if err := s.health.register(s.rpc); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	if cfg.Reflection {
		grpcreflect.Register(s.rpc)
	}
	if cfg.Admin {
		adminv1connect.RegisterAdminServiceHandler(s.rpc, &adminService{s: s})
		s.mux.Handle("GET /admin/", http.StripPrefix("/admin/", adminui.Handler()))
	}
	s.mux.HandleFunc("GET /healthz", s.serveHealthz)
	return s, nil
}

// clientAuth sets up client certificates (mTLS) when configured: the TLS
// handshake verifies them against the client CA, ClientCerts turns them into
// principals.
func (s *Server) clientAuth() error {
	switch s.cfg.TLSClientAuth {
	case "verify-if-given":
		s.tls.ClientAuth = tls.VerifyClientCertIfGiven
	case "require":
		s.tls.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil
	}
	pem, err := os.ReadFile(s.cfg.TLSClientCAFile)
	if err != nil {
		return fmt.Errorf("kit: read tls-client-ca: %w", err)
	}
	s.tls.ClientCAs = x509.NewCertPool()
	if !s.tls.ClientCAs.AppendCertsFromPEM(pem) {
		return fmt.Errorf("kit: tls-client-ca %s holds no PEM certificate", s.cfg.TLSClientCAFile)
	}
	scopes, _ := interceptors.ParseIdentityScopes(s.cfg.TLSClientScopes) // checked by Validate
	s.clientCerts = interceptors.NewClientCerts(scopes)
	return nil
}

// openDB opens the database and applies the kit's migrations, then the
// application's.
func (s *Server) openDB(sets []namedMigrations) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, s.cfg.DSN, store.Options{MaxOpenConns: s.cfg.DBMaxOpenConns, BusyTimeout: s.cfg.DBBusyTimeout})
	if err != nil {
		return err
	}
	sets = append([]namedMigrations{{"switchboard", store.KitMigrations()}}, sets...)
	for _, m := range sets {
		applied, err := store.Migrate(ctx, db, m.name, m.set)
		if err != nil {
			_ = db.Close()
			return err
		}
		if len(applied) > 0 {
			s.log.Info("applied migrations", "set", m.name, "migrations", applied)
		}
	}
	reader, err := store.OpenReader(ctx, db, s.cfg.DSN, store.Options{
		MaxOpenConns: s.cfg.DBMaxOpenConns, BusyTimeout: s.cfg.DBBusyTimeout,
	})
	if err != nil {
		_ = db.Close()
		return err
	}
	s.db, s.reader = db, reader
	return nil
}

// defaultChain builds the kit's interceptors from the config.
func (s *Server) defaultChain(o options) ([]connect.ServerInterceptor, error) {
	cfg := s.cfg
	trusted, _ := cfg.trustedProxies() // checked by Validate
	writerOpts := store.LogWriterOptions{
		QueueSize:     cfg.LogQueueSize,
		BatchSize:     cfg.LogBatchSize,
		FlushInterval: cfg.LogFlushInterval,
		Retention:     cfg.LogRetention,
		Logger:        s.log,
		SpillDir:      cfg.spillDir(),
		SpillMaxBytes: int64(cfg.LogSpillBytes),
	}
	writerOpts.OnWrite = func(rows int, took time.Duration, err error) {
		s.dbHealth.observe(err)
		if s.metrics != nil {
			s.metrics.onWrite(rows, took, err)
		}
	}
	if cfg.Metrics {
		s.metrics = newMetrics(s)
	}
	var err error
	if s.logWriter, err = store.NewLogWriter(s.db, writerOpts); err != nil {
		return nil, fmt.Errorf("kit: request log: %w", err)
	}
	authn := o.authenticator
	if authn == nil {
		s.apiKeys = interceptors.NewAPIKeys(s.reader, s.db, interceptors.APIKeysOptions{
			Header: cfg.APIKeyHeader, CacheTTL: cfg.APIKeyCacheTTL, Logger: s.log,
		})
		authn = s.apiKeys
	}
	if s.clientCerts != nil {
		authn = interceptors.FirstOf(authn, s.clientCerts)
	}
	logOpts := []interceptors.RequestLogOption{
		interceptors.WithLogLogger(s.log),
		interceptors.WithSkipProcedures(cfg.LogSkipProcedures...),
		interceptors.WithTrustedProxies(trusted...),
		interceptors.WithFailedRowsPerPeer(cfg.LogFailedRowsPerPeer),
	}
	if cfg.LogErrorsOnly {
		logOpts = append(logOpts, interceptors.WithErrorsOnly())
	}
	if cfg.LogPayloadBytes > 0 {
		logOpts = append(logOpts, interceptors.WithPayloadCapture(cfg.LogPayloadBytes, cfg.LogRedactFields...))
	}
	logOpts = append(logOpts, interceptors.WithCallObserver(s.publishCall))
	if s.metrics != nil {
		logOpts = append(logOpts, interceptors.WithCallObserver(s.metrics.observe))
	}
	for _, fn := range o.observers {
		logOpts = append(logOpts, interceptors.WithCallObserver(fn))
	}
	errorOpts := []interceptors.ErrorsOption{
		interceptors.WithErrorLogger(s.log),
		interceptors.WithErrorRules(o.errorRules...),
	}
	if cfg.ErrorInfo == "mapped" {
		errorOpts = append(errorOpts, interceptors.WithAuthoredErrorsAsIs())
	}
	deadlines, _ := interceptors.ParseDeadlines(cfg.DefaultDeadlines) // checked by Validate
	s.limiter = interceptors.NewLimiter(append(deadlines,
		interceptors.WithMaxInFlight(cfg.MaxInFlight),
		interceptors.WithMaxInFlightPerMethod(cfg.MaxInFlightPerMethod),
		interceptors.WithMaxStreams(cfg.MaxStreams),
		interceptors.WithMaxStreamsPerMethod(cfg.MaxStreamsPerMethod),
		interceptors.WithMaxAnonymousStreams(cfg.MaxAnonymousStreams),
		interceptors.WithMaxAnonymousStreamsPerPeer(cfg.MaxAnonymousStreamsPerPeer, trusted...),
		interceptors.WithLimitWait(cfg.LimitWait))...)
	return interceptors.Default(interceptors.Chain{
		Sink:          s.logWriter,
		RequestLog:    logOpts,
		Authenticator: authn,
		Auth: []interceptors.AuthOption{
			interceptors.WithPublicProcedures(cfg.PublicProcedures...),
			interceptors.WithProtectedProcedures(cfg.ProtectedProcedures...),
			interceptors.WithAuthTrustedProxies(trusted...),
			interceptors.WithFailureLimit(cfg.AuthFailureLimit, cfg.AuthFailureWindow),
			interceptors.WithRejectionObserver(s.publishRejection),
		},
		Limiter:   s.limiter,
		Tracer:    o.tracer,
		Errors:    errorOpts,
		Validator: s.validator,
	}), nil
}

// Validator returns the validation engine; register rules for your request
// messages on it before Run.
func (s *Server) Validator() *validate.Engine { return s.validator }

// APIKeys returns the built-in authenticator, or nil when WithAuthenticator
// replaced it.
func (s *Server) APIKeys() *interceptors.APIKeys { return s.apiKeys }

// InFlight reports calls running now, and calls refused so far because the
// server was at its limit of concurrent calls.
func (s *Server) InFlight() (running, rejected int64) {
	return s.limiter.InFlight(), s.limiter.Rejected()
}

// LogStats reports the request log writer's counters: rows written, records
// dropped (queue full), rows lost to database errors, and records queued now.
func (s *Server) LogStats() (written, dropped, failed int64, queued int) {
	return s.logWriter.Stats()
}

// LogSpill reports the request log's spill: records spilled to local disk
// while the database was unavailable, replayed, lost because it was full,
// and what waits on disk now.
func (s *Server) LogSpill() store.SpillStats { return s.logWriter.Spill() }

// RPC returns the registry of every method the server serves. Register
// services on it with their generated RegisterXHandler functions before Run.
func (s *Server) RPC() *connect.Server { return s.rpc }

// DB returns the database handle, for writes and transactions. It is closed
// when Run returns.
func (s *Server) DB() *bun.DB { return s.db }

// ReadDB returns a read-only handle for queries outside transactions. On
// SQLite it is a pool of its own, so reads never wait behind writers (the
// kit's log batches, another process's write lock, a full disk); on
// PostgreSQL it is DB(). A write through it fails. Closed when Run returns.
func (s *Server) ReadDB() *bun.DB { return s.reader }

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
	s.closeOnce.Do(func() {
		_ = s.ln.Close() // a server built but never run still holds its port
		if s.reader != s.db {
			_ = s.reader.Close()
		}
		err = s.db.Close()
	})
	return err
}

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
	defer s.Close()
	ln := s.ln
	connecthttp.Mount(s.mux, s.rpc, s.transportOptions()...)
	if s.metrics != nil {
		s.metrics.preregister(s.rpc)
		s.mux.Handle("GET /metrics", s.metrics.handler())
	}

	baseCtx, cancelCalls := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelCalls(interceptors.ErrServerShuttingDown)
	drain := make(chan struct{})
	baseCtx = context.WithValue(baseCtx, drainKey{}, (<-chan struct{})(drain))
	httpServer := s.httpServer(baseCtx)

	s.logWriter.Start()
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	if s.apiKeys != nil {
		background.Go(func() { s.apiKeys.Run(bgCtx) })
	}
	s.addr = ln.Addr()
	s.firstAdminKey(ctx)
	s.markServing() // before the first heartbeat, which may say otherwise
	background.Go(func() { s.heartbeat(bgCtx) })
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

func (s *Server) shutdown(httpServer *http.Server, drain chan struct{}, cancelCalls context.CancelCauseFunc) {
	s.dbHealth.stop()
	s.health.setAll(HealthNotServing)
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
		cancelCalls(interceptors.ErrServerShuttingDown)
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
	written, dropped, failed, queued := s.logWriter.Stats()
	s.log.Info("stopped", "logged", written, "dropped", dropped, "failed", failed, "unflushed", queued)
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
		Handler:           s.handlers.wrap(s.corsHandler(bodyTimeout(s.mux, s.cfg.ReadBodyTimeout))),
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
		connecthttp.WithCodecs(connectproto.NewBinaryCodec(), validate.NewJSONCodec()),
		connecthttp.WithReadMaxBytes(s.cfg.MaxReceiveBytes),
		connecthttp.WithSendMaxBytes(s.cfg.MaxSendBytes),
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
		if !s.dbHealth.writable() {
			_, _ = fmt.Fprintln(w, "not serving: the database cannot write")
			return
		}
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
