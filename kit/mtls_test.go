package kit_test

// Client certificates (mTLS): a certificate the handshake verified becomes
// the caller, with scopes from -tls-client-scopes; keys, certificates or both.

import (
	"crypto/tls"
	"net/http"
	"testing"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func startMTLS(t *testing.T, ca *kittest.CA, mode string) *echoEnv {
	t.Helper()
	certFile, keyFile := ca.ServerCert(t)
	return startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) {
		c.TLSCertFile, c.TLSKeyFile = certFile, keyFile
		c.TLSClientAuth, c.TLSClientCAFile = mode, ca.File
		c.TLSClientScopes = []string{
			"spiffe://example.org/billing=switchboardtest.v1.EchoService/Echo",
			"cn:reports.internal=switchboardtest.v1.EchoService/Expand",
		}
	})
}

func tlsConnectClient(env *echoEnv, ca *kittest.CA, certs ...tls.Certificate) switchboardtestv1connect.EchoServiceClient {
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: certs}}
	transport.Protocols = new(http.Protocols)
	transport.Protocols.SetHTTP2(true)
	return switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(
		connecthttp.NewTransport(&http.Client{Transport: transport}, "https://"+env.run.Addr)))
}

func TestMTLS_AVerifiedCertificateIsTheCaller(t *testing.T) {
	ca := kittest.NewCA(t)
	env := startMTLS(t, ca, "verify-if-given")
	billing := ca.ClientCert(t, "billing", "spiffe://example.org/billing")
	unmapped := ca.ClientCert(t, "nobody.internal")
	stranger := kittest.NewCA(t).ClientCert(t, "billing", "spiffe://example.org/billing")
	hi := &switchboardtestv1.EchoRequest{Text: "hi"}

	res, err := tlsConnectClient(env, ca, billing).Echo(t.Context(), hi)
	if err != nil {
		t.Fatalf("billing certificate on Echo: %v", err)
	}
	if res.GetPrincipal() == "" || res.GetPrincipal()[:5] != "x509:" {
		t.Errorf("handler saw principal %q, want the certificate's x509: id", res.GetPrincipal())
	}
	// Scopes come from the table: billing may Echo, not Collect…
	if _, err := tlsConnectClient(env, ca, billing).PublicEcho(t.Context(), hi); err != nil {
		t.Errorf("billing on a public method: %v", err)
	}
	stream, err := tlsConnectClient(env, ca, billing).Expand(t.Context(), &switchboardtestv1.EchoRequest{Text: "x", Count: 1})
	if err == nil {
		_, err = stream.Receive()
	}
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("billing on Expand: %v, want permission_denied", err)
	}
	// …a verified certificate with no grants is authenticated but may call
	// nothing protected; without a certificate the call is anonymous.
	if _, err := tlsConnectClient(env, ca, unmapped).Echo(t.Context(), hi); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("unmapped certificate on Echo: %v, want permission_denied", err)
	}
	// A common name that spells a SAN identity does not get its grants.
	impostor := ca.ClientCert(t, "spiffe://example.org/billing")
	if _, err := tlsConnectClient(env, ca, impostor).Echo(t.Context(), hi); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a CN spelling billing's SPIFFE id on Echo: %v, want permission_denied", err)
	}
	if _, err := tlsConnectClient(env, ca).Echo(t.Context(), hi); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("no certificate on Echo: %v, want unauthenticated", err)
	}
	if _, err := tlsConnectClient(env, ca).PublicEcho(t.Context(), hi); err != nil {
		t.Errorf("no certificate on a public method: %v", err)
	}
	// A certificate from another CA never gets past the handshake.
	if _, err := tlsConnectClient(env, ca, stranger).PublicEcho(t.Context(), hi); err == nil {
		t.Error("a certificate from an unknown CA was accepted")
	}

	// gRPC-Go with the certificate, and with a key as well: the key wins.
	creds := credentials.NewTLS(&tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{billing}})
	conn, err := grpc.NewClient(env.run.Addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out := new(switchboardtestv1.EchoResponse)
	if err := conn.Invoke(t.Context(), switchboardtestv1connect.EchoServiceEchoProcedure, hi, out); err != nil || out.GetPrincipal() != res.GetPrincipal() {
		t.Errorf("gRPC-Go with the certificate: %v principal %q", err, out.GetPrincipal())
	}
	keyID, _, _ := store.ParseAPIKey(env.key)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+env.key)
	if err := conn.Invoke(ctx, switchboardtestv1connect.EchoServiceEchoProcedure, hi, out); err != nil || out.GetPrincipal() != keyID {
		t.Errorf("certificate and key: %v principal %q, want the key %q", err, out.GetPrincipal(), keyID)
	}
}

func TestMTLS_RequireRefusesClientsWithoutACertificate(t *testing.T) {
	ca := kittest.NewCA(t)
	env := startMTLS(t, ca, "require")
	hi := &switchboardtestv1.EchoRequest{Text: "hi"}
	if _, err := tlsConnectClient(env, ca).PublicEcho(t.Context(), hi); err == nil {
		t.Error("a client without a certificate got through -tls-client-auth require")
	}
	if _, err := tlsConnectClient(env, ca, ca.ClientCert(t, "reports.internal")).PublicEcho(t.Context(), hi); err != nil {
		t.Errorf("a client with a certificate: %v", err)
	}
}

func TestMTLS_ConfigFailsClosed(t *testing.T) {
	ca := kittest.NewCA(t)
	certFile, keyFile := ca.ServerCert(t)
	for name, mutate := range map[string]func(*kit.Config){
		"no CA":        func(c *kit.Config) { c.TLSClientAuth = "require" },
		"CA is no PEM": func(c *kit.Config) { c.TLSClientAuth, c.TLSClientCAFile = "require", keyFile },
		"unknown mode": func(c *kit.Config) { c.TLSClientAuth, c.TLSClientCAFile = "sometimes", ca.File },
		"no TLS": func(c *kit.Config) {
			c.TLSCertFile, c.TLSKeyFile = "", ""
			c.TLSClientAuth, c.TLSClientCAFile = "require", ca.File
		},
		"bad scope":          func(c *kit.Config) { c.TLSClientScopes = []string{"billing=a/b/c"} },
		"not identity=scope": func(c *kit.Config) { c.TLSClientScopes = []string{"billing"} },
	} {
		cfg := kittest.Config(storetest.SQLiteDSN(t))
		cfg.TLSCertFile, cfg.TLSKeyFile = certFile, keyFile
		mutate(&cfg)
		if srv, err := kit.New(cfg); err == nil {
			_ = srv.Close()
			t.Errorf("%s: kit.New succeeded, want an error", name)
		}
	}
}
