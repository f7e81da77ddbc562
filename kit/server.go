package kit

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/grpcreflect/v2"
	"github.com/uptrace/bun"

	"github.com/switchboardkit/switchboard/admin"
	"github.com/switchboardkit/switchboard/admin/adminui"
	"github.com/switchboardkit/switchboard/apidocs"
	"github.com/switchboardkit/switchboard/cluster"
	"github.com/switchboardkit/switchboard/events"
	"github.com/switchboardkit/switchboard/gen/switchboard/admin/v1/adminv1connect"
	"github.com/switchboardkit/switchboard/health"
	"github.com/switchboardkit/switchboard/interceptors/auth"
	"github.com/switchboardkit/switchboard/interceptors/limit"
	"github.com/switchboardkit/switchboard/internal/callctx"
	"github.com/switchboardkit/switchboard/metrics"
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
	front  http.Handler // what the HTTP server serves: mux, behind the REST routes when on
	tls    *tls.Config

	health    *health.Server
	events    *events.Bus
	cluster   cluster.Bus
	admin     *admin.Service   // nil when Config.Admin is off
	instance  string           // this process's id: the heartbeat row, the cluster bus's origin
	metrics   *metrics.Metrics // nil when Config.Metrics is off
	validator *validate.Engine
	keys      *auth.APIKeys // creates and revokes keys; authenticates unless replaced
	logWriter *store.LogWriter
	limits    *limit.Counters

	ln       net.Listener // bound by New, served by Run
	handlers *handlerTracker
	dbHealth *dbHealth

	firstKeyOut io.Writer // where the first admin key is printed
	ready       chan struct{}
	addr        net.Addr
	closeOnce   sync.Once
}

// New checks cfg, loads the TLS certificate if one is configured, binds the
// listener (so a port in use is reported at once), opens the database and
// applies migrations, then builds the interceptor chain and registers
// health, reflection and the admin API. Any failure is returned: the server
// never starts half-configured, and never serves plaintext in place of TLS.
func New(cfg Config) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			flushLog(&cfg) // the caller may exit at once: what New logged goes first
		}
	}()
	s := &Server{
		cfg:         cfg,
		log:         cfg.Logger,
		mux:         http.NewServeMux(),
		health:      health.New(),
		events:      events.New(),
		validator:   cfg.Validator,
		limits:      new(limit.Counters),
		handlers:    newHandlerTracker(),
		firstKeyOut: cfg.FirstKeyOutput,
		ready:       make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.validator == nil {
		s.validator = validate.New()
	}
	if s.firstKeyOut == nil {
		s.firstKeyOut = os.Stderr
	}
	if err := s.loadTLS(); err != nil {
		return nil, err
	}
	// Bind the port first: a port in use is reported before minutes of
	// migrations, and Run serves on this listener.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("kit: listen on %s: %w (is another server running there? choose another address with -addr)", cfg.Addr, err)
	}
	s.ln = ln
	s.dbHealth = &dbHealth{log: s.log, health: s.health}
	if err := s.openDB(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	s.instance = newInstanceID()
	if err := s.openCluster(); err != nil {
		_ = s.Close()
		return nil, err
	}
	chain, err := s.chain()
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	s.rpc = connect.NewServer(append(chain, cfg.Interceptors...)...)
	if err := s.health.Register(s.rpc); err != nil {
		_ = s.Close()
		return nil, err
	}
	if cfg.Reflection {
		grpcreflect.Register(s.rpc)
	}
	if cfg.Admin {
		s.admin = admin.New(admin.Config{
			DB: s.reader, RPC: s.rpc, Access: s.cfg.Auth, Keys: s.keys, Events: s.events, Cluster: s.cluster,
			LogWriter: s.logWriter, Limits: s.limits,
		})
		adminv1connect.RegisterAdminServiceHandler(s.rpc, s.admin)
		s.mux.Handle("GET /admin/", http.StripPrefix("/admin/", adminui.Handler()))
	}
	s.mux.HandleFunc("GET /healthz", s.serveHealthz)
	if cfg.APIDocs && cfg.OpenAPI != nil {
		docs, err := apidocs.New(cfg.OpenAPI)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("kit: %w", err)
		}
		docs.Mount(s.mux)
	}
	return s, nil
}

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

// Validator returns the validation engine; register Go-side rules for your
// request messages on it before Run.
func (s *Server) Validator() *validate.Engine { return s.validator }

// APIKeys returns the keeper of the kit's API keys: create and revoke them
// through it. It authenticates calls too, unless Config.Authenticator
// replaced it.
func (s *Server) APIKeys() *auth.APIKeys { return s.keys }

// Events returns the bus that tells subscribers what the server saw:
// finished calls, keys created, revoked and rejected.
func (s *Server) Events() *events.Bus { return s.events }

// Cluster returns the bus between the replicas that share this server's
// database (PostgreSQL LISTEN/NOTIFY; in-process on SQLite). Publish what
// other replicas must learn — a write their watchers must see — and
// subscribe to what they publish.
func (s *Server) Cluster() cluster.Bus { return s.cluster }

// Health returns the health statuses; set your own services' with it.
func (s *Server) Health() *health.Server { return s.health }

// Limits reports calls in flight, calls refused at a cap, streams open.
func (s *Server) Limits() *limit.Counters { return s.limits }

// LogStats reports the request log writer's counters.
func (s *Server) LogStats() store.WriterStats { return s.logWriter.Stats() }

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

// Close releases the listener and the database. Run calls it on return;
// call it yourself only when a Server is built but never run.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		_ = s.ln.Close() // a server built but never run still holds its port
		if s.reader != nil && s.reader != s.db {
			_ = s.reader.Close()
		}
		if s.db != nil {
			err = s.db.Close()
		}
	})
	return err
}

// ShuttingDown returns a channel that is closed when the server begins to
// shut down. Long-lived handlers (server streams, watches) select on it to
// end their call cleanly within the shutdown grace period. Outside a kit
// server it returns nil, a channel that never fires.
func ShuttingDown(ctx context.Context) <-chan struct{} { return callctx.Drain(ctx) }

// openDB opens the database and applies the kit's migrations, then the
// application's, and opens the read pool.
func (s *Server) openDB() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, s.cfg.DSN, s.cfg.DB)
	if err != nil {
		return err
	}
	sets := append([]Migrations{{"switchboard", store.KitMigrations()}}, s.cfg.Migrations...)
	for _, m := range sets {
		applied, err := store.Migrate(ctx, db, m.Name, m.Set)
		if err != nil {
			_ = db.Close()
			return err
		}
		if len(applied) > 0 {
			s.log.Info("applied migrations", "set", m.Name, "migrations", applied)
		}
	}
	reader, err := store.OpenReader(ctx, db, s.cfg.DSN, s.cfg.DB)
	if err != nil {
		_ = db.Close()
		return err
	}
	s.db, s.reader = db, reader
	return nil
}
