package dynamic

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
)

// Protocols a Client speaks.
const (
	ProtocolConnect = "connect"
	ProtocolGRPC    = "grpc"
	ProtocolGRPCWeb = "grpcweb"
)

// Config configures a Client. The zero value speaks the Connect protocol
// over TLS with the system's roots.
type Config struct {
	// Plaintext uses HTTP without TLS (HTTP/2 prior knowledge, h2c). A target
	// written as http://… is plaintext too.
	Plaintext bool
	// CACertFile trusts the PEM certificates in this file instead of the
	// system roots.
	CACertFile string
	// Header is sent with every call and every reflection request (an API
	// key, for example).
	Header http.Header
	// Protocol is "connect" (default), "grpc" or "grpcweb".
	Protocol string
	// HTTP1 uses HTTP/1.1, which the Connect and gRPC-Web protocols allow
	// for unary, server- and client-streaming calls. Reflection still uses
	// HTTP/2.
	HTTP1 bool
	// ReflectionTTL is how long reflected descriptors are cached (default
	// 5 minutes).
	ReflectionTTL time.Duration
}

// Client reaches one target.
type Client struct {
	baseURL  string
	opts     Config
	calls    *connect.Client // for RPCs: the chosen protocol and HTTP version
	reflect  *connect.Client // for reflection: gRPC over HTTP/2
	protocol string
}

// NewClient prepares calls to target: "host:port", or a URL
// ("http://host:port" for plaintext, "https://host:port").
func NewClient(target string, opts Config) (*Client, error) {
	base, plaintext, err := parseTarget(target, opts.Plaintext)
	if err != nil {
		return nil, err
	}
	opts.Plaintext = plaintext
	protocol := opts.Protocol
	if protocol == "" {
		protocol = ProtocolConnect
	}
	var protoOpt []connecthttp.Option
	switch protocol {
	case ProtocolConnect:
	case ProtocolGRPC:
		if opts.HTTP1 {
			return nil, fmt.Errorf("the gRPC protocol needs HTTP/2; use --protocol connect or grpcweb for HTTP/1.1")
		}
		protoOpt = append(protoOpt, connecthttp.WithGRPC())
	case ProtocolGRPCWeb:
		protoOpt = append(protoOpt, connecthttp.WithGRPCWeb())
	default:
		return nil, fmt.Errorf("unknown protocol %q (want connect, grpc or grpcweb)", protocol)
	}
	h2, err := httpClient(opts, false)
	if err != nil {
		return nil, err
	}
	callHTTP := h2
	if opts.HTTP1 {
		if callHTTP, err = httpClient(opts, true); err != nil {
			return nil, err
		}
	}
	return &Client{
		baseURL:  base,
		opts:     opts,
		protocol: protocol,
		calls:    connect.NewClient(connecthttp.NewTransport(callHTTP, base, protoOpt...)),
		reflect:  connect.NewClient(connecthttp.NewTransport(h2, base, connecthttp.WithGRPC())),
	}, nil
}

// Reflection returns a Source backed by the target's reflection service.
func (c *Client) Reflection() *ReflectionSource {
	ttl := c.opts.ReflectionTTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	return NewReflectionSource(c.reflect, ttl)
}

func parseTarget(target string, plaintext bool) (base string, isPlaintext bool, err error) {
	if target == "" {
		return "", false, fmt.Errorf("no target")
	}
	if !strings.Contains(target, "://") {
		scheme := "https"
		if plaintext {
			scheme = "http"
		}
		target = scheme + "://" + target
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false, fmt.Errorf("bad target %q: want host:port or http(s)://host:port", target)
	}
	return strings.TrimRight(u.String(), "/"), u.Scheme == "http", nil
}

// httpClient builds the transport: h2c or TLS for HTTP/2, or HTTP/1.1 only.
func httpClient(opts Config, http1 bool) (*http.Client, error) {
	protocols := new(http.Protocols)
	switch {
	case http1:
		protocols.SetHTTP1(true)
	case opts.Plaintext:
		protocols.SetUnencryptedHTTP2(true)
	default:
		protocols.SetHTTP2(true)
	}
	transport := &http.Transport{Protocols: protocols, ForceAttemptHTTP2: !http1}
	if opts.CACertFile != "" {
		pem, err := os.ReadFile(opts.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("read CA certificates: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", opts.CACertFile)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var rt http.RoundTripper = transport
	if len(opts.Header) > 0 {
		rt = headerTransport{base: transport, header: opts.Header}
	}
	return &http.Client{Transport: rt}, nil
}

// headerTransport adds fixed headers to every request.
type headerTransport struct {
	base   http.RoundTripper
	header http.Header
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, vs := range t.header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return t.base.RoundTrip(r)
}
