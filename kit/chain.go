package kit

import (
	"cmp"
	"fmt"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard/interceptors/auth"
	"github.com/switchboardkit/switchboard/interceptors/errmap"
	"github.com/switchboardkit/switchboard/interceptors/limit"
	"github.com/switchboardkit/switchboard/interceptors/requestid"
	"github.com/switchboardkit/switchboard/interceptors/requestlog"
	"github.com/switchboardkit/switchboard/interceptors/selector"
	"github.com/switchboardkit/switchboard/interceptors/tracing"
	"github.com/switchboardkit/switchboard/interceptors/validation"
	"github.com/switchboardkit/switchboard/metrics"
	"github.com/switchboardkit/switchboard/store"
)

// chain builds the kit's interceptors from the config, in their one fixed
// order (docs/interceptors.md explains it; a test pins it):
//
//  1. requestid — every call gets its id first, logged or not;
//  2. requestlog — outermost after it, so it sees every call, rejected ones
//     too, and the final code the client gets (kept off the procedures in
//     LogSkipProcedures by selector); tracing, when configured, next, so
//     every span carries the request id;
//  3. auth — on headers only, before any payload is read or decoded;
//  4. limit — after auth, so only callers that got in take a slot;
//  5. errmap — wraps everything the service can produce (validation
//     failures, handler errors, panics) and maps it;
//  6. validation — checks each request message before the handler sees it.
//
// It also makes the collaborators the chain feeds: the log writer, the
// API-key keeper and metrics.
func (s *Server) chain() ([]connect.ServerInterceptor, error) {
	cfg := s.cfg
	if cfg.Metrics {
		s.metrics = metrics.New()
		s.metrics.WatchLimits(s.limits)
	}
	writer := cfg.LogWriter
	writer.SpillDir = cfg.spillDir()
	writer.Logger = cmp.Or(writer.Logger, s.log)
	writer.Instance = s.instance
	writer.Observers = append(writer.Observers, s.dbHealth)
	if s.metrics != nil {
		writer.Observers = append(writer.Observers, s.metrics)
	}
	var err error
	if s.logWriter, err = store.NewLogWriter(s.db, writer); err != nil {
		return nil, fmt.Errorf("kit: request log: %w", err)
	}
	if s.metrics != nil {
		s.metrics.WatchLogWriter(s.logWriter)
	}

	keys := cfg.APIKeys
	keys.Logger, keys.Events, keys.Cluster = cmp.Or(keys.Logger, s.log), s.events, s.cluster
	s.keys = auth.NewAPIKeys(s.reader, s.db, keys)
	authn := cfg.Authenticator
	if authn == nil {
		authn = s.keys
	}
	if certs := s.clientCerts(); certs != nil {
		authn = auth.FirstOf(authn, certs)
	}

	logCfg := cfg.RequestLog
	logCfg.TrustedProxies, logCfg.Logger = cfg.TrustedProxies, cmp.Or(logCfg.Logger, s.log)
	var sinks []requestlog.Sink
	switch cfg.LogStore {
	case "rows":
		sinks = append(sinks, s.logWriter)
	case "stats":
		sinks = append(sinks, statsOnly{s.logWriter})
	}
	sinks = append(sinks, s.events)
	if s.metrics != nil {
		sinks = append(sinks, s.metrics)
	}
	var requestLog connect.ServerInterceptor = requestlog.New(logCfg, append(sinks, cfg.CallSinks...)...)
	if len(cfg.LogSkipProcedures) > 0 {
		requestLog = selector.Except(selector.Procedures(cfg.LogSkipProcedures...), requestLog)
	}

	authCfg := cfg.Auth
	authCfg.TrustedProxies, authCfg.Events = cfg.TrustedProxies, s.events
	limits := cfg.Limits
	limits.TrustedProxies, limits.Counters = cfg.TrustedProxies, s.limits
	errCfg := cfg.Errors
	errCfg.Logger = cmp.Or(errCfg.Logger, s.log)

	chain := []connect.ServerInterceptor{requestid.New(), requestLog}
	if cfg.TracerProvider != nil {
		chain = append(chain, tracing.New(cfg.TracerProvider))
	}
	return append(chain,
		auth.New(authn, authCfg),
		limit.New(limits),
		errmap.New(errCfg),
		validation.New(s.validator),
	), nil
}

// statsOnly keeps every call in the statistics, none as a row
// (-log-store stats).
type statsOnly struct{ w *store.LogWriter }

func (s statsOnly) Record(rec *store.RequestLog, _ bool) { s.w.Count(rec) }
