package requestlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/switchboardkit/switchboard"
	"github.com/switchboardkit/switchboard/internal/callctx"
	"github.com/switchboardkit/switchboard/internal/peer"
	"github.com/switchboardkit/switchboard/store"
)

// ProtocolREST is the protocol of a call that came in on a REST route
// (package rest), beside connect-go's names for the three RPC protocols.
const ProtocolREST = "rest"

// Sink receives every finished call's record. row reports whether the call
// keeps a row of its own (false: a failed call past its peer's row budget,
// to be counted in the statistics only). Record runs on the call's goroutine
// after the call ended: it must not block, and must copy rec before
// changing it. *store.LogWriter, *events.Bus and *metrics.Metrics are sinks.
type Sink interface {
	Record(rec *store.RequestLog, row bool)
}

// New returns the request log interceptor, handing each finished call to
// every sink in order.
func New(cfg Config, sinks ...Sink) connect.ServerInterceptor {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &logger{cfg: cfg, budget: newRowBudget(cfg.FailedRowsPerPeer, time.Minute)}
	l.okLines, _ = okLineShare(cfg.Lines) // checked by the kit's Config.Validate; a bad value logs failed calls only
	if cfg.PayloadBytes > 0 {
		l.capture = &payloadCapture{maxBytes: cfg.PayloadBytes, paths: cfg.RedactFields}
	}
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			start := time.Now()
			info, _ := connect.CallInfoForServerContext(ctx)
			ctx = callctx.Begin(ctx) // so the principal auth records further in is seen here
			counted := &countingStream{ServerStream: stream, info: info, capture: l.capture}

			err := next(ctx, spec, counted)

			if cfg.ErrorsOnly && err == nil {
				return err
			}
			rec := l.record(ctx, spec, info, start, counted, switchboard.PrincipalFromContext(ctx), err)
			// Calls by an authenticated caller, and refusals of one
			// (permission_denied), always keep their row: the budget is for
			// anonymous noise, never a way to probe unseen.
			row := err == nil || rec.KeyID != "" || rec.Code == "permission_denied" ||
				l.budget.take(cfg.Logger, peer.Key(rec.PeerIP))
			if row && l.wantsLine(err) {
				l.logLine(ctx, rec)
			}
			for _, s := range sinks {
				s.Record(rec, row)
			}
			return err
		}
	}
}

type logger struct {
	cfg     Config
	capture *payloadCapture
	budget  *rowBudget
	okLines float64 // share of successful calls with a line; < 0: no line at all
}

// wantsLine reports whether a call that ended with err gets a log line.
func (l *logger) wantsLine(err error) bool {
	switch {
	case l.okLines < 0:
		return false
	case err != nil || l.okLines >= 1:
		return true
	default:
		return l.okLines > 0 && rand.Float64() < l.okLines
	}
}

func (l *logger) record(ctx context.Context, spec connect.Spec, info *connect.CallInfo,
	start time.Time, s *countingStream, p *switchboard.Principal, err error,
) *store.RequestLog {
	service, method := splitProcedure(spec.Procedure)
	rec := &store.RequestLog{
		RequestID:        callctx.RequestID(ctx),
		Procedure:        strings.TrimPrefix(spec.Procedure, "/"),
		Service:          service,
		Method:           method,
		StreamType:       StreamType(spec.StreamType),
		Code:             "ok",
		StartTime:        start.UTC().Truncate(time.Microsecond),
		DurationMicros:   time.Since(start).Microseconds(),
		PeerIP:           peer.IP(ctx, l.cfg.TrustedProxies),
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
	if rest := callctx.RESTFor(ctx, spec.Procedure); rest != nil {
		// Transcoded from a REST route: the client spoke REST, not Connect.
		rec.Protocol, rec.HTTPMethod, rec.HTTPRoute = ProtocolREST, rest.Method, rest.Route
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
func (l *logger) logLine(ctx context.Context, rec *store.RequestLog) {
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
	l.cfg.Logger.LogAttrs(ctx, level, "rpc", attrs...)
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

// StreamType names a call shape as the request log and admin API do:
// "unary", "client", "server" or "bidi".
func StreamType(t connect.StreamType) string {
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
	s = s[:n]
	// Not through a character: drop a last one that was cut.
	for i := len(s) - 1; i >= 0 && i >= len(s)-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if !utf8.FullRuneInString(s[i:]) {
				s = s[:i]
			}
			break
		}
	}
	return s
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
