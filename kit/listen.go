package kit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectgzip"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/connect/v2/connectproto"

	"github.com/switchboardkit/switchboard/interceptors/auth"
	"github.com/switchboardkit/switchboard/validate"
)

// loadTLS loads the certificate when TLS is configured (ALPN h2 and
// http/1.1), and the client CA when client certificates are asked for. A
// certificate that does not load is an error: never plaintext instead.
func (s *Server) loadTLS() error {
	if s.cfg.TLSCertFile == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("kit: load TLS certificate: %w", err)
	}
	s.tls = &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if s.cfg.CoalesceWrites {
		s.tls.GetConfigForClient = markH2 // kit/conn.go
	}
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
	return nil
}

// clientCerts returns the authenticator of verified client certificates
// (mTLS), or nil when the server asks for none.
func (s *Server) clientCerts() *auth.ClientCerts {
	if s.tls == nil || s.tls.ClientAuth == tls.NoClientCert {
		return nil
	}
	scopes, _ := auth.ParseIdentityScopes(s.cfg.TLSClientScopes) // checked by Validate
	return auth.NewClientCerts(scopes)
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
		Handler:           s.handlers.wrap(s.corsHandler(bodyTimeout(s.front, s.cfg.ReadBodyTimeout))),
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
