package interceptors

// RequestLog: the first, outermost interceptor. It sees every call, rejected
// ones too: it assigns the request id (a valid X-Request-Id from the client,
// else a new one), echoes it in the response header and puts it on the
// context (switchboard.RequestIDFromContext); it counts messages and bytes by
// wrapping the stream; when the call ends it writes one slog line and hands
// one store.RequestLog to a sink (the asynchronous LogWriter), never blocking
// or failing the call. The principal comes from auth, which runs inside it.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/switchboardkit/switchboard"
	"github.com/switchboardkit/switchboard/store"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

// LogSink receives finished calls. Neither method may block.
// *store.LogWriter is the kit's sink.
type LogSink interface {
	// Enqueue keeps the call's row; it reports whether the record was kept.
	Enqueue(*store.RequestLog) bool
	// Count adds the call to the statistics only, without a row: for failed
	// calls past their peer's row budget (WithFailedRowsPerPeer).
	Count(*store.RequestLog)
}

type requestLogOptions struct {
	logger     *slog.Logger
	skip       []string
	errorsOnly bool
	trusted    []netip.Prefix
	capture    *payloadCapture
	observers  []func(*store.RequestLog)
	budget     *rowBudget
}

// RequestLogOption configures RequestLog.
type RequestLogOption func(*requestLogOptions)

// WithLogLogger sets the logger for the per-call line (default slog.Default()).
func WithLogLogger(logger *slog.Logger) RequestLogOption {
	return func(o *requestLogOptions) { o.logger = logger }
}

// WithSkipProcedures records nothing for procedures matching any pattern
// ("grpc.health.v1.Health/*"); default none.
func WithSkipProcedures(patterns ...string) RequestLogOption {
	return func(o *requestLogOptions) { o.skip = append(o.skip, patterns...) }
}

// WithErrorsOnly records only failed calls (default: every call).
func WithErrorsOnly() RequestLogOption {
	return func(o *requestLogOptions) { o.errorsOnly = true }
}

// WithTrustedProxies makes X-Forwarded-For count when the direct peer is in
// one of prefixes (default: never trusted).
func WithTrustedProxies(prefixes ...netip.Prefix) RequestLogOption {
	return func(o *requestLogOptions) { o.trusted = append(o.trusted, prefixes...) }
}

// WithPayloadCapture records the first request and first response message as
// JSON, truncated to maxBytes, with fields marked debug_redact and the given
// field paths ("pet.name") replaced by "[REDACTED]". Off by default.
func WithPayloadCapture(maxBytes int, redactPaths ...string) RequestLogOption {
	return func(o *requestLogOptions) {
		o.capture = &payloadCapture{maxBytes: maxBytes, paths: redactPaths}
	}
}

// WithFailedRowsPerPeer bounds the rows that failed calls (any code but OK:
// rejected, cancelled, invalid…) from one peer can take — calls by an
// authenticated caller and permission_denied refusals aside: at most n per
// minute, as a token bucket of n that refills over a minute. Past it, such a
// call is still counted — in the rollups, metrics and observers — but gets no
// row and no log line, so a flood from one peer (a rapid-reset burst, a
// credential spray) never pushes out other callers' records. The peer is the
// one auth counts failures by. Default 600; 0 turns the bound off.
func WithFailedRowsPerPeer(n int) RequestLogOption {
	return func(o *requestLogOptions) { o.budget = newRowBudget(n, time.Minute) }
}

// WithCallObserver calls fn with every finished call's record, on the call's
// goroutine after the call ended; fn must be quick and must not block.
func WithCallObserver(fn func(*store.RequestLog)) RequestLogOption {
	return func(o *requestLogOptions) { o.observers = append(o.observers, fn) }
}

// RequestLog returns the request log interceptor; sink may be nil to log
// lines only.
func RequestLog(sink LogSink, opts ...RequestLogOption) connect.ServerInterceptor {
	o := requestLogOptions{logger: slog.Default(), budget: newRowBudget(600, time.Minute)}
	for _, opt := range opts {
		opt(&o)
	}
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			start := time.Now()
			info, _ := connect.CallInfoForServerContext(ctx)
			id := requestID(info)
			if info != nil {
				info.ResponseHeader().Set(RequestIDHeader, id)
			}
			ctx = switchboard.WithRequestID(ctx, id)
			ctx, principal := switchboard.TrackPrincipal(ctx)
			counted := &countingStream{ServerStream: stream, info: info, capture: o.capture}

			err := next(ctx, spec, counted)

			if o.skipped(spec.Procedure) || (o.errorsOnly && err == nil) {
				return err
			}
			rec := o.record(ctx, spec, info, id, start, counted, principal(), err)
			// Calls by an authenticated caller, and refusals of one
			// (permission_denied), always keep their row: the budget is for
			// anonymous noise, never a way to probe unseen.
			keep := err == nil || rec.KeyID != "" || rec.Code == "permission_denied" ||
				o.budget.take(o.logger, limiterKey(rec.PeerIP))
			if keep {
				o.logLine(ctx, rec)
			}
			if sink != nil {
				// The sink owns its copy: the writer sets the row id while
				// observers may still be reading theirs.
				owned := *rec
				if keep {
					sink.Enqueue(&owned)
				} else {
					sink.Count(&owned)
				}
			}
			for _, fn := range o.observers {
				fn(rec)
			}
			return err
		}
	}
}

func (o *requestLogOptions) skipped(procedure string) bool {
	for _, p := range o.skip {
		if switchboard.ProcedureMatches(p, procedure) {
			return true
		}
	}
	return false
}

func (o *requestLogOptions) record(ctx context.Context, spec connect.Spec, info *connect.CallInfo, id string,
	start time.Time, s *countingStream, p *switchboard.Principal, err error,
) *store.RequestLog {
	service, method := splitProcedure(spec.Procedure)
	rec := &store.RequestLog{
		RequestID:        id,
		Procedure:        strings.TrimPrefix(spec.Procedure, "/"),
		Service:          service,
		Method:           method,
		StreamType:       StreamTypeName(spec.StreamType),
		Code:             "ok",
		StartTime:        start.UTC().Truncate(time.Microsecond),
		DurationMicros:   time.Since(start).Microseconds(),
		PeerIP:           peerIP(ctx, o.trusted),
		RequestBytes:     s.recvBytes,
		ResponseBytes:    s.sentBytes,
		MessagesReceived: s.recvMsgs,
		MessagesSent:     s.sentMsgs,
		RequestPayload:   s.reqPayload,
		ResponsePayload:  s.resPayload,
	}
	if info != nil {
		rec.Protocol = info.Protocol
		rec.UserAgent = truncate(info.RequestHeader().Get("User-Agent"), 256)
	}
	if hi, ok := connecthttp.ServerInfoForContext(ctx); ok {
		rec.HTTPVersion = hi.RequestProto()
	}
	if p != nil {
		rec.KeyID, rec.KeyName = p.KeyID, p.Name
	}
	if err != nil {
		rec.Code = connect.CodeOf(err).String()
		var cerr *connect.Error
		if errors.As(err, &cerr) {
			rec.ErrorMessage = truncate(cerr.Message(), 1024)
			rec.ErrorReason = errorReason(cerr)
			rec.ErrorDetails = errorDetailsJSON(cerr)
		}
	}
	return rec
}

// logLine writes one structured line per call, at a level chosen by code:
// the caller's mistakes and calls the client cancelled or let run past its
// deadline are info, refusals and capacity problems warn, server faults
// error.
func (o *requestLogOptions) logLine(ctx context.Context, rec *store.RequestLog) {
	level := slog.LevelInfo
	switch rec.Code {
	case "permission_denied", "unavailable", "resource_exhausted":
		level = slog.LevelWarn
	case "internal", "unknown", "data_loss", "unimplemented":
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("request_id", rec.RequestID),
		slog.String("procedure", rec.Procedure),
		slog.String("protocol", rec.Protocol),
		slog.String("code", rec.Code),
		slog.Duration("duration", time.Duration(rec.DurationMicros)*time.Microsecond),
		slog.String("peer", rec.PeerIP),
		slog.Int64("request_bytes", rec.RequestBytes),
		slog.Int64("response_bytes", rec.ResponseBytes),
	}
	if rec.KeyID != "" {
		attrs = append(attrs, slog.String("key_id", rec.KeyID))
	}
	if rec.ErrorReason != "" {
		attrs = append(attrs, slog.String("reason", rec.ErrorReason))
	}
	o.logger.LogAttrs(ctx, level, "rpc", attrs...)
}

// requestID returns the client's X-Request-Id when it is a sane token (1–128
// of [A-Za-z0-9._:-]), else a new random one.
func requestID(info *connect.CallInfo) string {
	if info != nil {
		if id := info.RequestHeader().Get(RequestIDHeader); validRequestID(id) {
			return id
		}
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._:-", c)
		if !ok {
			return false
		}
	}
	return true
}

func errorReason(cerr *connect.Error) string {
	for _, d := range cerr.Details() {
		msg, err := connectproto.UnmarshalErrorDetail(d)
		if err != nil {
			continue
		}
		if info, ok := msg.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// errorDetailsJSON renders the details clients received as a JSON array,
// each with its "@type", so the admin page can show them (a BadRequest as a
// list of field violations, not base64).
func errorDetailsJSON(cerr *connect.Error) string {
	details := cerr.Details()
	if len(details) == 0 {
		return ""
	}
	parts := make([]string, 0, len(details))
	for _, d := range details {
		data, err := protojson.Marshal(connectproto.ErrorDetailToAny(d))
		if err != nil {
			continue // a type this binary does not know: skip rather than guess
		}
		var compact bytes.Buffer // protojson's spacing is deliberately unstable
		if json.Compact(&compact, data) == nil {
			parts = append(parts, compact.String())
		}
	}
	return truncate("["+strings.Join(parts, ",")+"]", 8192)
}

func splitProcedure(procedure string) (service, method string) {
	procedure = strings.TrimPrefix(procedure, "/")
	if i := strings.LastIndexByte(procedure, '/'); i >= 0 {
		return procedure[:i], procedure[i+1:]
	}
	return procedure, ""
}

// StreamTypeName names a call shape as the request log and admin API do:
// "unary", "client", "server" or "bidi".
func StreamTypeName(t connect.StreamType) string {
	switch t {
	case connect.StreamTypeUnary:
		return "unary"
	case connect.StreamTypeClient:
		return "client"
	case connect.StreamTypeServer:
		return "server"
	default:
		return "bidi"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// countingStream counts messages and wire bytes in each direction and
// captures the first message each way when payload capture is on. Receive and
// Send may run concurrently; each only touches its own fields.
type countingStream struct {
	connect.ServerStream
	info    *connect.CallInfo
	capture *payloadCapture

	recvMsgs, recvBytes int64
	sentMsgs, sentBytes int64
	reqPayload          string
	resPayload          string
}

func (s *countingStream) Receive(msg any) error {
	if err := s.ServerStream.Receive(msg); err != nil {
		return err
	}
	s.recvMsgs++
	if s.info != nil {
		s.recvBytes += wireSize(s.info.ReceiveStats)
	}
	if s.capture != nil && s.recvMsgs == 1 {
		s.reqPayload = s.capture.encode(msg)
	}
	return nil
}

func (s *countingStream) Send(msg any) error {
	if err := s.ServerStream.Send(msg); err != nil {
		return err
	}
	s.sentMsgs++
	if s.info != nil {
		s.sentBytes += wireSize(s.info.SendStats)
	}
	if s.capture != nil && s.sentMsgs == 1 {
		s.resPayload = s.capture.encode(msg)
	}
	return nil
}

func wireSize(st connect.MessageStats) int64 {
	if st.CompressedSize > 0 {
		return int64(st.CompressedSize)
	}
	return int64(st.Size)
}

// rowBudget is a token bucket per peer for the rows of failed calls.
type rowBudget struct {
	size   float64
	refill time.Duration // time to refill the whole bucket
	mu     sync.Mutex
	peers  map[string]*bucket
	now    func() time.Time
}

type bucket struct {
	tokens     float64
	last       time.Time
	suppressed int // calls counted only since the bucket ran dry
}

func newRowBudget(n int, refill time.Duration) *rowBudget {
	if n <= 0 {
		return nil
	}
	return &rowBudget{size: float64(n), refill: refill, peers: make(map[string]*bucket), now: time.Now}
}

// take reports whether peer may have one more row. It logs once when a peer
// runs dry, and once more, with the number of calls kept as counts only,
// when it has tokens again.
func (b *rowBudget) take(logger *slog.Logger, peer string) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	k, ok := b.peers[peer]
	if !ok {
		if len(b.peers) > 100_000 { // bound memory under a spray of peers
			clear(b.peers)
		}
		k = &bucket{tokens: b.size, last: now}
		b.peers[peer] = k
	}
	k.tokens = min(b.size, k.tokens+b.size*float64(now.Sub(k.last))/float64(b.refill))
	k.last = now
	if k.tokens < 1 {
		if k.suppressed == 0 {
			logger.Warn("request log: peer over its row budget for failed calls; further ones are counted, not stored",
				"peer", peer, "rows_per_minute", int(b.size))
		}
		k.suppressed++
		return false
	}
	if k.suppressed > 0 {
		logger.Info("request log: peer back within its row budget", "peer", peer, "counted_only", k.suppressed)
		k.suppressed = 0
	}
	k.tokens--
	return true
}
