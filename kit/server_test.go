package kit_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionalphapb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboardkit/switchboard/health"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func newServer(t *testing.T, mutate func(*kit.Config)) *kit.Server {
	t.Helper()
	cfg := kittest.Config(storetest.SQLiteDSN(t))
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := kit.New(cfg)
	if err != nil {
		t.Fatalf("kit.New: %v", err)
	}
	return srv
}

func dialGRPC(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestHealth_CheckReportsServerAndServices(t *testing.T) {
	run := kittest.Start(t, newServer(t, nil))
	hc := healthpb.NewHealthClient(dialGRPC(t, run.Addr))
	ctx := t.Context()

	for _, service := range []string{"", health.ServiceName, "grpc.reflection.v1.ServerReflection"} {
		res, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("Check(%q): %v", service, err)
		}
		if res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check(%q) = %v, want SERVING", service, res.GetStatus())
		}
	}
	_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("Check(unknown) error = %v, want NotFound", err)
	}
}

func TestHealth_WatchSeesNotServingOnShutdownAndNewCallsAreRefused(t *testing.T) {
	run := kittest.Start(t, newServer(t, nil))
	conn := dialGRPC(t, run.Addr)
	hc := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if res, err := watch.Recv(); err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Watch update = %v, %v; want SERVING", res, err)
	}
	run.StopAsync()
	res, err := watch.Recv()
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch update after shutdown = %v, %v; want NOT_SERVING", res, err)
	}
	if _, err := watch.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("Watch after drain: %v, want a clean end of stream", err)
	}
	if err := run.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	_, err = healthpb.NewHealthClient(dialGRPC(t, run.Addr)).Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("Check after shutdown: %v, want Unavailable", err)
	}
}

func TestHealth_NotServingDuringShutdownDelay(t *testing.T) {
	run := kittest.Start(t, newServer(t, func(c *kit.Config) { c.ShutdownDelay = 1500 * time.Millisecond }))
	hc := healthpb.NewHealthClient(dialGRPC(t, run.Addr))
	run.StopAsync()

	kittest.WaitFor(t, "Check to answer NOT_SERVING during the shutdown delay", func() bool {
		res, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{})
		return err == nil && res.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING
	})
	resp, err := http.Get(run.URL + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/healthz during shutdown = %d, want 503", resp.StatusCode)
	}
}

func TestReflection_DescribesExactlyTheRegisteredServices(t *testing.T) {
	srv := newServer(t, nil)
	key := kittest.APIKey(t, srv, "reflection", "grpc.reflection.*/*")
	run := kittest.Start(t, srv)
	conn := dialGRPC(t, run.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(kittest.Bearer(key)))
	want := []string{
		"grpc.health.v1.Health",
		"grpc.reflection.v1.ServerReflection",
		"grpc.reflection.v1alpha.ServerReflection",
		"switchboard.admin.v1.AdminService",
	}

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	got := listServices(t, stream)
	if !slices.Equal(got, want) {
		t.Errorf("v1 ListServices = %v, want %v", got, want)
	}
	file := fileContainingSymbol(t, stream, health.ServiceName)
	if file.GetPackage() != "grpc.health.v1" || len(file.GetService()) != 1 {
		t.Fatalf("file for %s = %s (package %q)", health.ServiceName, file.GetName(), file.GetPackage())
	}
	var methods []string
	for _, m := range file.GetService()[0].GetMethod() {
		methods = append(methods, m.GetName())
	}
	if !slices.Contains(methods, "Check") || !slices.Contains(methods, "Watch") {
		t.Errorf("grpc.health.v1.Health methods = %v, want Check and Watch", methods)
	}

	// v1alpha is deprecated upstream but still what older tools send.
	alpha, err := reflectionalphapb.NewServerReflectionClient(conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatalf("v1alpha ServerReflectionInfo: %v", err)
	}
	//lint:ignore SA1019 v1alpha is tested on purpose
	if err := alpha.Send(&reflectionalphapb.ServerReflectionRequest{
		MessageRequest: &reflectionalphapb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	res, err := alpha.Recv()
	if err != nil {
		t.Fatalf("v1alpha ListServices: %v", err)
	}
	//lint:ignore SA1019 v1alpha is tested on purpose
	if n := len(res.GetListServicesResponse().GetService()); n != len(want) {
		t.Errorf("v1alpha listed %d services, want %d", n, len(want))
	}
}

func TestReflection_IsProtectedByDefault(t *testing.T) {
	run := kittest.Start(t, newServer(t, nil))
	stream, err := reflectionpb.NewServerReflectionClient(dialGRPC(t, run.Addr)).ServerReflectionInfo(t.Context())
	if err == nil {
		err = stream.Send(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
		})
	}
	if err == nil || errors.Is(err, io.EOF) { // io.EOF: already refused; Recv has the status
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("reflection without a key: %v, want Unauthenticated", err)
	}
}

func TestReflection_OffIsUnimplemented(t *testing.T) {
	run := kittest.Start(t, newServer(t, func(c *kit.Config) {
		c.Reflection = false
		c.Auth.Public = []string{"grpc.reflection.*/*"}
	}))
	stream, err := reflectionpb.NewServerReflectionClient(dialGRPC(t, run.Addr)).ServerReflectionInfo(t.Context())
	if err == nil {
		err = stream.Send(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
		})
	}
	// Send reports io.EOF when the server has already ended the stream (its
	// 404 can beat the request's body); the status is Recv's to tell.
	if err == nil || errors.Is(err, io.EOF) {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("reflection with Reflection=false: %v, want Unimplemented", err)
	}
}

// Go's HTTP/2 server once applied ReadHeaderTimeout / IdleTimeout to whole
// h2c connections; a long-lived stream must outlive both.
func TestH2C_LongStreamOutlivesReadHeaderAndIdleTimeouts(t *testing.T) {
	srv := newServer(t, func(c *kit.Config) {
		c.ReadHeaderTimeout = 100 * time.Millisecond
		c.IdleTimeout = 200 * time.Millisecond
	})
	run := kittest.Start(t, srv)
	hc := healthpb.NewHealthClient(dialGRPC(t, run.Addr))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: health.ServiceName})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}
	kittest.LetTimePass(t, 1500*time.Millisecond, "15× ReadHeaderTimeout, 7× IdleTimeout, with the stream open")
	srv.Health().Set(health.ServiceName, health.NotServing)
	res, err := watch.Recv()
	if err != nil {
		t.Fatalf("stream died while idle: %v", err)
	}
	if res.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("update = %v, want NOT_SERVING", res.GetStatus())
	}
}

func TestTLS_BadCertificateFailsAtStart(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, files := range map[string][2]string{
		"missing": {filepath.Join(dir, "nope.pem"), filepath.Join(dir, "nope.key")},
		"garbage": {garbage, garbage},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := kittest.Config(storetest.SQLiteDSN(t))
			cfg.TLSCertFile, cfg.TLSKeyFile = files[0], files[1]
			if srv, err := kit.New(cfg); err == nil {
				_ = srv.Close()
				t.Fatal("kit.New with a bad certificate succeeded; want an error (fail closed)")
			}
		})
	}
	cfg := kittest.Config(storetest.SQLiteDSN(t))
	cfg.TLSCertFile = garbage
	if _, err := kit.New(cfg); err == nil {
		t.Error("kit.New with a certificate and no key succeeded")
	}
}

func TestTLS_ServesGRPCOverH2AndHTTP1(t *testing.T) {
	certFile, keyFile, pool := kittest.SelfSignedCert(t)
	run := kittest.Start(t, newServer(t, func(c *kit.Config) {
		c.TLSCertFile, c.TLSKeyFile = certFile, keyFile
	}))
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})
	hc := healthpb.NewHealthClient(dialGRPC(t, run.Addr, grpc.WithTransportCredentials(creds)))
	if res, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC over TLS: %v, %v", res, err)
	}

	for _, tc := range []struct {
		name      string
		h1, h2    bool
		wantProto string
	}{
		{"http1", true, false, "HTTP/1.1"},
		{"http2", false, true, "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			protocols := new(http.Protocols)
			protocols.SetHTTP1(tc.h1)
			protocols.SetHTTP2(tc.h2)
			client := &http.Client{Transport: &http.Transport{
				Protocols:       protocols,
				TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"},
			}}
			resp, err := client.Get("https://" + run.Addr + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Proto != tc.wantProto {
				t.Errorf("GET /healthz = %d over %s, want 200 over %s", resp.StatusCode, resp.Proto, tc.wantProto)
			}
		})
	}

	resp, err := http.Get("http://" + run.Addr + "/healthz")
	if err == nil {
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("a plaintext request to the TLS port was served")
		}
	}
}

func listServices(t *testing.T, stream reflectionpb.ServerReflection_ServerReflectionInfoClient) []string {
	t.Helper()
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	res, err := stream.Recv()
	if err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	var names []string
	for _, s := range res.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	slices.Sort(names)
	return names
}

func fileContainingSymbol(t *testing.T, stream reflectionpb.ServerReflection_ServerReflectionInfoClient, symbol string) *descriptorpb.FileDescriptorProto {
	t.Helper()
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol},
	}); err != nil {
		t.Fatal(err)
	}
	res, err := stream.Recv()
	if err != nil {
		t.Fatalf("FileContainingSymbol(%s): %v", symbol, err)
	}
	if e := res.GetErrorResponse(); e != nil {
		t.Fatalf("FileContainingSymbol(%s): %s", symbol, e.GetErrorMessage())
	}
	files := res.GetFileDescriptorResponse().GetFileDescriptorProto()
	if len(files) == 0 {
		t.Fatalf("FileContainingSymbol(%s): no files", symbol)
	}
	var file descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(files[0], &file); err != nil {
		t.Fatal(err)
	}
	return &file
}
