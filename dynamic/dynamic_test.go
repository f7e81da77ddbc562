package dynamic_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	reflectionalpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboardkit/switchboard/dynamic"
	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/internal/echo"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

const echoService = "switchboardtest.v1.EchoService"

// startKit serves the echo service on a Switchboard server; key has scope *.
func startKit(t *testing.T) (addr, key string) {
	t.Helper()
	cfg := kittest.Config(storetest.SQLiteDSN(t))
	cfg.Logger = quiet()
	srv, err := kit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	switchboardtestv1connect.RegisterEchoServiceHandler(srv.RPC(), &echo.Handler{DB: srv.DB()})
	key = kittest.APIKey(t, srv, "dynamic", "*")
	return kittest.Start(t, srv).Addr, key
}

func client(t *testing.T, addr, key, protocol string, http1 bool) (*dynamic.Client, dynamic.Source) {
	t.Helper()
	h := make(map[string][]string)
	if key != "" {
		h["Authorization"] = []string{"Bearer " + key}
	}
	c, err := dynamic.NewClient(addr, dynamic.Config{Plaintext: true, Header: h, Protocol: protocol, HTTP1: http1})
	if err != nil {
		t.Fatal(err)
	}
	return c, c.Reflection()
}

func method(t *testing.T, src dynamic.Source, name string) protoreflect.MethodDescriptor {
	t.Helper()
	d, err := src.FindDescriptor(t.Context(), protoreflect.FullName(echoService+"."+name))
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	return d.(protoreflect.MethodDescriptor)
}

// call invokes method with JSON requests and returns each response as JSON.
func call(t *testing.T, c *dynamic.Client, src dynamic.Source, name, requests string) ([]string, error) {
	t.Helper()
	md := method(t, src, name)
	var out []string
	err := c.Invoke(t.Context(), md, dynamic.JSONRequests(strings.NewReader(requests), md.Input(), src, false),
		dynamic.Events{Message: func(m proto.Message) {
			data, err := protojson.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(data))
		}})
	return out, err
}

func TestInvoke_EveryShapeOverEveryProtocol(t *testing.T) {
	addr, key := startKit(t)
	for _, tc := range []struct {
		protocol string
		http1    bool
	}{
		{dynamic.ProtocolConnect, false},
		{dynamic.ProtocolConnect, true},
		{dynamic.ProtocolGRPC, false},
		{dynamic.ProtocolGRPCWeb, false},
		{dynamic.ProtocolGRPCWeb, true},
	} {
		name := tc.protocol
		if tc.http1 {
			name += "-http1"
		}
		t.Run(name, func(t *testing.T) {
			c, src := client(t, addr, key, tc.protocol, tc.http1)
			shapes := []struct {
				method, in string
				want       []string
			}{
				{"Echo", `{"text":"hi"}`, []string{`"text":"hi"`}},
				{"Expand", `{"text":"x","count":2}`, []string{`"text":"x"`, `"text":"x"`}},
				{"Collect", `{"text":"a"} {"text":"b"}`, []string{`"text":"a b"`}},
				{"Chat", `{"text":"a"} {"text":"b"}`, []string{`"text":"a"`, `"text":"b"`}},
			}
			for _, sh := range shapes {
				if sh.method == "Chat" && tc.http1 {
					continue // bidi needs HTTP/2
				}
				got, err := call(t, c, src, sh.method, sh.in)
				if err != nil {
					t.Errorf("%s: %v", sh.method, err)
					continue
				}
				if len(got) != len(sh.want) {
					t.Errorf("%s: %d responses %v, want %d", sh.method, len(got), got, len(sh.want))
					continue
				}
				for i := range got {
					if !strings.Contains(got[i], sh.want[i]) {
						t.Errorf("%s response %d = %s, want %s", sh.method, i, got[i], sh.want[i])
					}
				}
			}
		})
	}
}

func TestInvoke_ErrorsComeBackWithDecodedDetails(t *testing.T) {
	addr, key := startKit(t)
	for _, protocol := range []string{dynamic.ProtocolConnect, dynamic.ProtocolGRPC, dynamic.ProtocolGRPCWeb} {
		c, src := client(t, addr, key, protocol, false)
		_, err := call(t, c, src, "Echo", `{"text":""}`)
		st := dynamic.StatusOf(err, src)
		data, _ := json.Marshal(st)
		if st.Code != "invalid_argument" || !strings.Contains(string(data), `"field":"text"`) ||
			!strings.Contains(string(data), `"reason":"VALIDATION_FAILED"`) {
			t.Errorf("%s: status %s", protocol, data)
		}
		// A refused server stream keeps its status (not io.EOF).
		anon, asrc := client(t, addr, "", protocol, false)
		_, err = call(t, anon, src, "Expand", `{"text":"x","count":1}`)
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("%s: unauthenticated server stream: %v", protocol, err)
		}
		// Reflection refused without a key: a clear, typed error.
		_, err = asrc.ListServices(t.Context())
		var rerr *dynamic.ReflectionError
		if !errors.As(err, &rerr) || rerr.Kind != "refused" {
			t.Errorf("%s: reflection without a key: %v, want refused", protocol, err)
		}
	}
}

func TestReflection_ListDescribeTemplate(t *testing.T) {
	addr, key := startKit(t)
	_, src := client(t, addr, key, "", false)
	names, err := src.ListServices(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, protoreflect.FullName(echoService)) || !slices.Contains(names, "grpc.health.v1.Health") {
		t.Errorf("services = %v", names)
	}
	svc, err := src.FindDescriptor(t.Context(), echoService)
	if err != nil {
		t.Fatal(err)
	}
	text := dynamic.Describe(svc)
	for _, want := range []string{"service EchoService {", "rpc Chat(stream switchboardtest.v1.EchoRequest) returns (stream switchboardtest.v1.EchoResponse);"} {
		if !strings.Contains(text, want) {
			t.Errorf("describe service lacks %q:\n%s", want, text)
		}
	}
	msg, err := src.FindDescriptor(t.Context(), "switchboardtest.v1.EchoRequest")
	if err != nil {
		t.Fatal(err)
	}
	// The validation rules come through reflection, beside their field.
	if text := dynamic.Describe(msg); !strings.Contains(text, `string text = 1 [(switchboard.v1.rules) = "required,max=100"];`) ||
		!strings.Contains(text, "int32 count = 3;") {
		t.Errorf("describe message:\n%s", text)
	}
	tmpl := dynamic.Template(msg.(protoreflect.MessageDescriptor), dynamic.TemplateConfig{ProtoNames: true})
	var got map[string]any
	if err := json.Unmarshal(tmpl, &got); err != nil {
		t.Fatalf("template is not JSON: %v\n%s", err, tmpl)
	}
	if _, ok := got["count"]; !ok || len(got) != 4 {
		t.Errorf("template = %s", tmpl)
	}
	// The template is a valid request.
	if err := protojson.Unmarshal(tmpl, &switchboardtestv1.EchoRequest{}); err != nil {
		t.Errorf("template does not parse as the message: %v", err)
	}
	if _, err := src.FindDescriptor(t.Context(), "no.such.Thing"); !errors.Is(err, dynamic.ErrNotFound) {
		t.Errorf("unknown symbol: %v", err)
	}
}

// A server Switchboard did not build: gRPC-Go with its own reflection.
func startGRPCGo(t *testing.T, withReflection string) string {
	t.Helper()
	s := grpc.NewServer()
	echo.RegisterGRPC(s, &echo.Handler{})
	switch withReflection {
	case "v1+v1alpha":
		reflection.Register(s)
	case "v1alpha":
		reflectionalpha.RegisterServerReflectionServer(s, reflection.NewServer(reflection.ServerOptions{Services: s}))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

func TestGRPCGoServer_ReflectionV1AndV1AlphaOnly(t *testing.T) {
	for _, mode := range []string{"v1+v1alpha", "v1alpha"} {
		t.Run(mode, func(t *testing.T) {
			addr := startGRPCGo(t, mode)
			c, src := client(t, addr, "", dynamic.ProtocolGRPC, false)
			names, err := src.ListServices(t.Context())
			if err != nil || !slices.Contains(names, protoreflect.FullName(echoService)) {
				t.Fatalf("ListServices = %v, %v", names, err)
			}
			got, err := call(t, c, src, "Expand", `{"text":"g","count":3}`)
			if err != nil || len(got) != 3 {
				t.Errorf("Expand on gRPC-Go: %v, %v", got, err)
			}
			got, err = call(t, c, src, "Chat", `{"text":"a"} {"text":"b"} {"text":"c"}`)
			if err != nil || len(got) != 3 {
				t.Errorf("Chat on gRPC-Go: %v, %v", got, err)
			}
		})
	}
}

func TestNoReflection_ProtosetAndProtoFiles(t *testing.T) {
	addr := startGRPCGo(t, "none")
	c, refl := client(t, addr, "", dynamic.ProtocolGRPC, false)
	_, err := refl.ListServices(t.Context())
	var rerr *dynamic.ReflectionError
	if !errors.As(err, &rerr) || rerr.Kind != "missing" {
		t.Fatalf("reflection on a server without it: %v, want missing", err)
	}

	protoset := writeProtoset(t, switchboardtestv1.File_switchboardtest_v1_echo_proto)
	fromSet, err := dynamic.NewFileSource(t.Context(), []string{protoset}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fromProto, err := dynamic.NewFileSource(t.Context(), nil, []string{"switchboardtest/v1/echo.proto"}, []string{"../proto", "../third_party/proto"})
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]dynamic.Source{
		"protoset": fromSet, "proto files": fromProto, "combined": dynamic.Sources{refl, fromProto},
	} {
		got, err := call(t, c, src, "Echo", `{"text":"offline"}`)
		if err != nil || len(got) != 1 || !strings.Contains(got[0], "offline") {
			t.Errorf("%s: %v, %v", name, got, err)
		}
	}
}

func writeProtoset(t *testing.T, fd protoreflect.FileDescriptor) string {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(fd)
	data, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "echo.binpb")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestTLS_CustomCAAndEvents(t *testing.T) {
	certFile, keyFile, _ := kittest.SelfSignedCert(t)
	cfg := kittest.Config(storetest.SQLiteDSN(t))
	cfg.TLSCertFile, cfg.TLSKeyFile, cfg.Logger = certFile, keyFile, quiet()
	srv, err := kit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	switchboardtestv1connect.RegisterEchoServiceHandler(srv.RPC(), &echo.Handler{})
	key := kittest.APIKey(t, srv, "tls", "*")
	addr := kittest.Start(t, srv).Addr
	target := "localhost:" + addr[strings.LastIndexByte(addr, ':')+1:]
	header := map[string][]string{"Authorization": {"Bearer " + key}}

	// Without the CA the system roots do not trust the certificate.
	untrusted, err := dynamic.NewClient(target, dynamic.Config{Header: header})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := untrusted.Reflection().ListServices(t.Context()); err == nil {
		t.Error("a self-signed certificate was trusted without --cacert")
	}
	for _, protocol := range []string{dynamic.ProtocolConnect, dynamic.ProtocolGRPC, dynamic.ProtocolGRPCWeb} {
		c, err := dynamic.NewClient(target, dynamic.Config{CACertFile: certFile, Header: header, Protocol: protocol})
		if err != nil {
			t.Fatal(err)
		}
		src := c.Reflection()
		md := method(t, src, "Echo")
		var headers, trailers, messages int
		var requestID string
		err = c.Invoke(t.Context(), md, dynamic.Messages(&switchboardtestv1.EchoRequest{Text: "tls"}), dynamic.Events{
			Headers:  func(h *connect.Header) { headers++; requestID = h.Get("X-Request-Id") },
			Message:  func(proto.Message) { messages++ },
			Trailers: func(*connect.Header) { trailers++ },
		})
		if err != nil || headers != 1 || messages != 1 || trailers != 1 || requestID == "" {
			t.Errorf("%s over TLS: err %v, events %d/%d/%d, request id %q", protocol, err, headers, messages, trailers, requestID)
		}
	}
}
