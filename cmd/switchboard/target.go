package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboardkit/switchboard/dynamic"
)

// targetFlags are the flags every command that talks to a server shares.
type targetFlags struct {
	headers     multiFlag
	apiKey      string
	protocol    string
	plaintext   bool
	http1       bool
	cacert      string
	protosets   multiFlag
	protos      multiFlag
	importPaths multiFlag
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func (t *targetFlags) register(fs *flag.FlagSet) {
	fs.Var(&t.headers, "H", "header 'Name: value' sent with every request (repeatable)")
	fs.StringVar(&t.apiKey, "api-key", "", "API key, sent as 'Authorization: Bearer KEY'")
	fs.StringVar(&t.protocol, "protocol", "", "connect, grpc or grpcweb (default grpc, as grpcurl; connect with --http1)")
	fs.BoolVar(&t.plaintext, "plaintext", false, "no TLS: HTTP/2 cleartext (h2c), or HTTP/1.1 with --http1")
	fs.BoolVar(&t.http1, "http1", false, "use HTTP/1.1 (connect and grpcweb; not bidi streams)")
	fs.StringVar(&t.cacert, "cacert", "", "PEM file of CA certificates to trust instead of the system's")
	fs.Var(&t.protosets, "protoset", "FileDescriptorSet file to describe the server instead of reflection (repeatable)")
	fs.Var(&t.protos, "proto", ".proto file to describe the server instead of reflection (repeatable)")
	fs.Var(&t.importPaths, "I", "import path for --proto files (repeatable)")
}

// connect builds the client and the descriptor source: the files given, or
// the server's reflection.
func (t *targetFlags) connect(ctx context.Context, target string) (*dynamic.Client, dynamic.Source, error) {
	header := http.Header{}
	for _, h := range t.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, nil, fmt.Errorf("-H %q: want 'Name: value'", h)
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if t.apiKey != "" {
		header.Set("Authorization", "Bearer "+t.apiKey)
	}
	if t.protocol == "" {
		// gRPC first: every gRPC server speaks it, a plain gRPC-Go one
		// included; over HTTP/1.1 only Connect (and gRPC-Web) can go.
		t.protocol = dynamic.ProtocolGRPC
		if t.http1 {
			t.protocol = dynamic.ProtocolConnect
		}
	}
	c, err := dynamic.NewClient(target, dynamic.Config{
		Plaintext: t.plaintext, CACertFile: t.cacert, Header: header, Protocol: t.protocol, HTTP1: t.http1,
	})
	if err != nil {
		return nil, nil, err
	}
	if len(t.protosets) == 0 && len(t.protos) == 0 {
		return c, c.Reflection(), nil
	}
	src, err := dynamic.NewFileSource(ctx, t.protosets, t.protos, t.importPaths)
	if err != nil {
		return nil, nil, err
	}
	return c, src, nil
}

// resolve connects to target and looks up symbol ("pkg.Service/Method" or
// any fully-qualified name).
func (t *targetFlags) resolve(ctx context.Context, target, symbol string) (*dynamic.Client, dynamic.Source, protoreflect.Descriptor, error) {
	c, src, err := t.connect(ctx, target)
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := src.FindDescriptor(ctx, symbolName(symbol))
	if err != nil {
		return nil, nil, nil, t.hint(err)
	}
	return c, src, d, nil
}

// hint adds what to try next to an error whose text betrays a common
// mismatch between the command line and the server.
func (t *targetFlags) hint(err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	switch {
	case strings.Contains(text, "first record does not look like a TLS handshake"):
		return fmt.Errorf("%w\nhint: the server speaks plaintext: add --plaintext", err)
	case t.plaintext && (strings.Contains(text, "connection reset") || strings.Contains(text, "malformed HTTP response") ||
		strings.Contains(text, "frame too large") || strings.Contains(text, "unexpected EOF")):
		return fmt.Errorf("%w\nhint: if the server speaks TLS, drop --plaintext (and pass --cacert for a private CA)", err)
	case strings.Contains(text, "415") || strings.Contains(text, "Unsupported Media Type") ||
		(t.protocol != dynamic.ProtocolGRPC && strings.Contains(text, "unsupported content type")):
		return fmt.Errorf("%w\nhint: the server does not speak %s: try --protocol grpc", err, t.protocol)
	}
	return err
}
