package kit_test

// The admin API is granted by named scopes only. These tests are the attacks
// an outside review found: keys whose scopes are procedure patterns reaching
// AdminService, and a narrow admin key minting a wider one.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// rawKey stores a key with exactly these scopes, valid or not: keys made
// before scopes were validated may hold anything.
func rawKey(t *testing.T, srv *kit.Server, scopes ...string) string {
	t.Helper()
	secret, key, err := store.NewAPIKey("raw", []string{"*"}, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key.Scopes = scopes
	if err := store.CreateAPIKey(t.Context(), srv.DB(), key); err != nil {
		t.Fatal(err)
	}
	return secret
}

var adminMethods = adminv1.File_switchboard_admin_v1_admin_proto.Services().ByName("AdminService").Methods()

// callAdmin calls one admin method with an empty request over gRPC and
// returns the status code and ErrorInfo reason. A live-tail stream that was
// let in sends nothing; it ends with DEADLINE_EXCEEDED after a second.
func callAdmin(t *testing.T, conn *grpc.ClientConn, m protoreflect.MethodDescriptor, key string) (connect.Code, string) {
	t.Helper()
	timeout := 10 * time.Second
	if m.IsStreamingServer() {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	procedure := fmt.Sprintf("/%s/%s", m.Parent().FullName(), m.Name())
	in, out := dynamicpb.NewMessage(m.Input()), dynamicpb.NewMessage(m.Output())
	var err error
	if m.IsStreamingServer() {
		var stream grpc.ClientStream
		if stream, err = conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, procedure); err == nil {
			if err = stream.SendMsg(in); err == nil {
				_ = stream.CloseSend()
				err = stream.RecvMsg(out)
			}
		}
	} else {
		err = conn.Invoke(ctx, procedure, in, out)
	}
	if err == nil {
		return 0, ""
	}
	st := status.Convert(err)
	reason := ""
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason()
		}
	}
	return connect.Code(st.Code()), reason
}

func grpcConn(t *testing.T, env *echoEnv) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(env.run.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// admitted reports whether auth let the call through: whatever the handler
// then said (an empty request may well be invalid), it was not auth.
func admitted(code connect.Code, reason string) bool {
	switch reason {
	case "MISSING_CREDENTIALS", "INVALID_CREDENTIALS", "MISSING_SCOPE", "TOO_MANY_FAILED_ATTEMPTS":
		return false
	}
	return code != connect.CodeUnauthenticated && code != connect.CodePermissionDenied
}

func TestAdmin_ProcedurePatternsNeverReachTheAdminAPI(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) { c.Auth.FailureLimit = 0 })
	conn := grpcConn(t, env)
	patterns := []string{
		"*", "/*", "*/*", "/*/*", "*/Create*", "*/List*", "*/Get*", "*/Watch*", "*/Revoke*",
		"switchboard.*/*", "switchboard.admin.v1.*/*", "*.AdminService/*",
		"switchboard.admin.v1.AdminService/*", "/switchboard.admin.v1.AdminService/*",
		"switchboard.admin.v1.AdminService/CreateApiKey", "/switchboard.admin.v1.AdminService/CreateApiKey",
		"switchboard.admin.v1.AdminService/[A-Z]*", "switchboard.admin.v1.AdminService/?*",
		// named-scope near misses
		"admin*", "admin.*", "Admin", "ADMIN", "admin.read.all", "administrator", "admin/", "/admin",
	}
	for _, pattern := range patterns {
		key := rawKey(t, env.srv, pattern)
		for i := range adminMethods.Len() {
			m := adminMethods.Get(i)
			code, reason := callAdmin(t, conn, m, key)
			if code != connect.CodePermissionDenied || reason != "MISSING_SCOPE" {
				t.Errorf("scope %q on %s: %v %q, want permission_denied MISSING_SCOPE", pattern, m.Name(), code, reason)
			}
		}
	}
}

func TestAdmin_ReadAndWriteScopes(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	conn := grpcConn(t, env)
	reader := kittest.APIKey(t, env.srv, "reader", "admin.read")
	admin := kittest.APIKey(t, env.srv, "admin", "admin")
	writes := map[protoreflect.Name]bool{"CreateApiKey": true, "RevokeApiKey": true}
	for i := range adminMethods.Len() {
		m := adminMethods.Get(i)
		if code, reason := callAdmin(t, conn, m, admin); !admitted(code, reason) {
			t.Errorf("admin on %s: %v %q, want admitted", m.Name(), code, reason)
		}
		code, reason := callAdmin(t, conn, m, reader)
		if writes[m.Name()] != (code == connect.CodePermissionDenied && reason == "MISSING_SCOPE") {
			t.Errorf("admin.read on %s: %v %q (a write: %v)", m.Name(), code, reason, writes[m.Name()])
		}
		if code, _ := callAdmin(t, conn, m, ""); code != connect.CodeUnauthenticated {
			t.Errorf("no key on %s: %v, want unauthenticated", m.Name(), code)
		}
	}
}

func TestAdmin_WildcardPublicConfigNeverOpensTheAdminAPI(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) {
		c.Auth.Public = []string{"*", "*/*", "switchboard.admin.v1.AdminService/*"}
	})
	conn := grpcConn(t, env)
	for i := range adminMethods.Len() {
		m := adminMethods.Get(i)
		if code, _ := callAdmin(t, conn, m, ""); code != connect.CodeUnauthenticated {
			t.Errorf("%s without a key: %v, want unauthenticated", m.Name(), code)
		}
	}
}

func TestAdmin_AKeyCreatesOnlyKeysWithinItsOwnScopes(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	narrow := adminClient(env, kittest.APIKey(t, env.srv, "narrow", "admin", "switchboardtest.v1.EchoService/*"))
	wide := adminClient(env, kittest.APIKey(t, env.srv, "wide", "admin", "*"))
	for _, tc := range []struct {
		client interface {
			CreateApiKey(context.Context, *adminv1.CreateApiKeyRequest) (*adminv1.CreateApiKeyResponse, error)
		}
		scopes []string
		want   connect.Code
		reason string
	}{
		{narrow, []string{"*"}, connect.CodePermissionDenied, "SCOPE_NOT_HELD"},
		{narrow, []string{"*/*"}, connect.CodePermissionDenied, "SCOPE_NOT_HELD"},
		{narrow, []string{"switchboardtest.*/*"}, connect.CodePermissionDenied, "SCOPE_NOT_HELD"},
		{narrow, []string{"admin.read", "petstore.v1.PetStoreService/*"}, connect.CodePermissionDenied, "SCOPE_NOT_HELD"},
		{narrow, []string{"admin.read", "switchboardtest.v1.EchoService/Echo"}, 0, ""},
		{narrow, []string{"admin"}, 0, ""},
		{wide, []string{"*", "petstore.v1.PetStoreService/*"}, 0, ""},
		{wide, []string{"billing"}, connect.CodePermissionDenied, "SCOPE_NOT_HELD"},
		{wide, []string{"a/b/c"}, connect.CodeInvalidArgument, "VALIDATION_FAILED"},
		{wide, []string{""}, connect.CodeInvalidArgument, "VALIDATION_FAILED"},
	} {
		res, err := tc.client.CreateApiKey(t.Context(), &adminv1.CreateApiKeyRequest{Name: "minted", Scopes: tc.scopes})
		if connect.CodeOf(err) != tc.want && !(tc.want == 0 && err == nil) {
			t.Errorf("create %v: %v, want %v", tc.scopes, err, tc.want)
			continue
		}
		if err != nil {
			if got := errorReason(err); got != tc.reason {
				t.Errorf("create %v: reason %q, want %q", tc.scopes, got, tc.reason)
			}
		} else if res.GetSecret() == "" {
			t.Errorf("create %v: no secret", tc.scopes)
		}
	}
}

// errorReason returns the ErrorInfo reason of a Connect client's error.
func errorReason(err error) string {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return ""
	}
	for _, d := range cerr.Details() {
		if msg, derr := connectproto.UnmarshalErrorDetail(d); derr == nil {
			if info, ok := msg.(*errdetails.ErrorInfo); ok {
				return info.GetReason()
			}
		}
	}
	return ""
}

func TestAdmin_AKeyCannotMintOneThatOutlivesIt(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	secret, key, err := store.NewAPIKey("short", []string{"admin", "*"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateAPIKey(t.Context(), env.srv.DB(), key); err != nil {
		t.Fatal(err)
	}
	for _, ttl := range []*durationpb.Duration{nil, durationpb.New(1000 * time.Hour)} {
		res, err := adminClient(env, secret).CreateApiKey(t.Context(), &adminv1.CreateApiKeyRequest{Name: "minted", Scopes: []string{"*"}, Ttl: ttl})
		if err != nil {
			t.Fatal(err)
		}
		if exp := res.GetKey().GetExpireTime().AsTime(); res.GetKey().GetExpireTime() == nil || exp.After(key.ExpiresAt.Add(time.Second)) {
			t.Errorf("ttl %v: the minted key expires %v, after its creator (%v)", ttl, exp, key.ExpiresAt)
		}
	}
}
