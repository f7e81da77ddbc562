package petstore

// No secret is stored, logged or served back: with payload capture on, every
// admin method and every pet store method is called with real keys, then
// every column of every table, every admin API response and the server's log
// are searched for each secret made.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/gen/petstore/v1/petstorev1connect"
	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
	"github.com/switchboardkit/switchboard/gen/switchboard/admin/v1/adminv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func TestSecrets_NeverStoredLoggedOrServedBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		cfg := kittest.Config(dsn)
		cfg.RequestLog.PayloadBytes = 64 << 10
		serverLog := new(kittest.SyncBuffer)
		cfg.Migrations = []kit.Migrations{{Name: "petstore", Set: Migrations()}}
		cfg.Logger = slog.New(slog.NewJSONHandler(serverLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
		srv, err := kit.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		petstorev1connect.RegisterPetStoreServiceHandler(srv.RPC(), New(srv.DB(), srv.ReadDB(), srv.Validator(), srv.Cluster()))
		rootKey := kittest.APIKey(t, srv, "root", "admin", "*")
		run := kittest.Start(t, srv)
		secrets := []string{rootKey}
		ctx := t.Context()

		var responses []proto.Message // every admin API response, searched below
		called := map[protoreflect.FullName]bool{}
		note := func(procedure string, res proto.Message, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", procedure, err)
			}
			called[protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(procedure, "/"), "/", "."))] = true
			responses = append(responses, res)
		}
		adminAs := func(key string) adminv1connect.AdminServiceClient {
			return adminv1connect.NewAdminServiceClient(connect.NewClient(
				connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), key), run.URL)))
		}
		admin := adminAs(rootKey)

		// Keys made through the admin API: their secrets come back once.
		tail, err := admin.WatchRequestLogs(ctx, &adminv1.WatchRequestLogsRequest{})
		note(adminv1connect.AdminServiceWatchRequestLogsProcedure, &adminv1.WatchRequestLogsResponse{}, err)
		minted, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{Name: "minted",
			Scopes: []string{"admin.read", "petstore.v1.PetStoreService/*"}, Ttl: durationpb.New(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		called[adminv1.File_switchboard_admin_v1_admin_proto.Services().ByName("AdminService").Methods().ByName("CreateApiKey").FullName()] = true
		doomed, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{Name: "doomed", Scopes: []string{"*/GetPet"}})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, minted.GetSecret(), doomed.GetSecret())
		for {
			got, err := tail.Receive()
			if err != nil {
				t.Fatalf("live tail: %v", err)
			}
			responses = append(responses, got)
			if got.GetLog().GetProcedure() == strings.TrimPrefix(adminv1connect.AdminServiceCreateApiKeyProcedure, "/") {
				break
			}
		}
		_ = tail.Close()

		// Every pet store method, with the minted key, over two protocols.
		pets := petstorev1connect.NewPetStoreServiceClient(connect.NewClient(
			connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), minted.GetSecret()), run.URL)))
		curl := &curlClient{base: run.URL, key: minted.GetSecret()}
		for _, api := range []unaryAPI{pets, curl} {
			created, err := api.CreatePet(ctx, &petstorev1.CreatePetRequest{Pet: dog("Rex")})
			note(petstorev1connect.PetStoreServiceCreatePetProcedure, created, err)
			id := created.GetPet().GetId()
			got, err := api.GetPet(ctx, &petstorev1.GetPetRequest{Id: id})
			note(petstorev1connect.PetStoreServiceGetPetProcedure, got, err)
			list, err := api.ListPets(ctx, &petstorev1.ListPetsRequest{PageSize: 5})
			note(petstorev1connect.PetStoreServiceListPetsProcedure, list, err)
			upd, err := api.UpdatePet(ctx, &petstorev1.UpdatePetRequest{Pet: withName(created.GetPet(), "Max"),
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}})
			note(petstorev1connect.PetStoreServiceUpdatePetProcedure, upd, err)
			del, err := api.DeletePet(ctx, &petstorev1.DeletePetRequest{Id: id})
			note(petstorev1connect.PetStoreServiceDeletePetProcedure, del, err)
		}
		watch, err := pets.WatchPets(ctx, &petstorev1.WatchPetsRequest{MaxEvents: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pets.CreatePet(ctx, &petstorev1.CreatePetRequest{Pet: dog("Ivy")}); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := watch.Receive(); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("WatchPets: %v", err)
				}
				break
			}
		}
		note(petstorev1connect.PetStoreServiceWatchPetsProcedure, &petstorev1.WatchPetsResponse{}, watch.Close())
		imp, err := pets.ImportPets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := imp.Send(&petstorev1.ImportPetsRequest{Pet: dog("Ann")}); err != nil {
			t.Fatal(err)
		}
		imported, err := imp.CloseAndReceive()
		note(petstorev1connect.PetStoreServiceImportPetsProcedure, imported, err)
		// A wrong secret for a real key id, and a key in the other header.
		bad := &curlClient{base: run.URL, key: minted.GetSecret()[:len(minted.GetSecret())-3] + "xyz"}
		if _, err := bad.CreatePet(ctx, &petstorev1.CreatePetRequest{Pet: dog("Nope")}); inspect(t, err).code != connect.CodeUnauthenticated {
			t.Fatalf("wrong secret: %v", err)
		}

		// The rest of the admin API, as a read-only key and as root.
		reader := adminAs(minted.GetSecret())
		waitWritten(t, srv, 16)
		ov, err := reader.GetOverview(ctx, &adminv1.GetOverviewRequest{})
		note(adminv1connect.AdminServiceGetOverviewProcedure, ov, err)
		svcs, err := reader.ListServices(ctx, &adminv1.ListServicesRequest{})
		note(adminv1connect.AdminServiceListServicesProcedure, svcs, err)
		ms, err := reader.GetMethodStats(ctx, &adminv1.GetMethodStatsRequest{Procedure: "petstore.v1.PetStoreService/CreatePet"})
		note(adminv1connect.AdminServiceGetMethodStatsProcedure, ms, err)
		tl, err := reader.GetTimeline(ctx, &adminv1.GetTimelineRequest{})
		note(adminv1connect.AdminServiceGetTimelineProcedure, tl, err)
		var logs []*adminv1.RequestLog
		for page := ""; ; {
			res, err := reader.ListRequestLogs(ctx, &adminv1.ListRequestLogsRequest{PageSize: 100, PageToken: page})
			note(adminv1connect.AdminServiceListRequestLogsProcedure, res, err)
			logs = append(logs, res.GetLogs()...)
			if page = res.GetNextPageToken(); page == "" {
				break
			}
		}
		for _, l := range logs {
			one, err := reader.GetRequestLog(ctx, &adminv1.GetRequestLogRequest{RequestId: l.GetRequestId()})
			note(adminv1connect.AdminServiceGetRequestLogProcedure, one, err)
		}
		keys, err := reader.ListApiKeys(ctx, &adminv1.ListApiKeysRequest{})
		note(adminv1connect.AdminServiceListApiKeysProcedure, keys, err)
		inst, err := reader.ListInstances(ctx, &adminv1.ListInstancesRequest{})
		note(adminv1connect.AdminServiceListInstancesProcedure, inst, err)
		rev, err := admin.RevokeApiKey(ctx, &adminv1.RevokeApiKeyRequest{Id: doomed.GetKey().GetId()})
		note(adminv1connect.AdminServiceRevokeApiKeyProcedure, rev, err)

		// The log shows CreateApiKey's response was captured, redacted.
		var sawCapture bool
		for _, l := range logs {
			if l.GetProcedure() == strings.TrimPrefix(adminv1connect.AdminServiceCreateApiKeyProcedure, "/") {
				sawCapture = strings.Contains(l.GetResponsePayload(), `"secret":"[REDACTED]"`)
			}
		}
		if !sawCapture {
			t.Error("CreateApiKey's captured response does not show the secret redacted")
		}
		for _, svc := range []protoreflect.ServiceDescriptor{
			adminv1.File_switchboard_admin_v1_admin_proto.Services().ByName("AdminService"),
			petstorev1.File_petstore_v1_petstore_proto.Services().ByName("PetStoreService"),
		} {
			for i := range svc.Methods().Len() {
				if m := svc.Methods().Get(i); !called[m.FullName()] {
					t.Errorf("%s was not exercised: add it to this test", m.FullName())
				}
			}
		}

		run.Stop() // flushes the request log and last-used times
		db, err := store.Open(context.Background(), dsn, store.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, secret := range secrets {
			_, bare, _ := store.ParseAPIKey(secret)
			for _, needle := range []string{secret, bare} {
				scanTables(t, db.DB, needle)
				for _, res := range responses {
					if text := protojson.Format(res); strings.Contains(text, needle) {
						t.Errorf("an admin API response holds a secret: %.200s", text)
					}
				}
				if strings.Contains(serverLog.String(), needle) {
					t.Error("the server log holds a secret")
				}
			}
		}
	})
}

// scanTables fails if any column of any row of any table holds needle.
func scanTables(t *testing.T, db *sql.DB, needle string) {
	t.Helper()
	query := `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	if _, err := db.Exec(`SELECT sqlite_version()`); err == nil {
		query = `SELECT name FROM sqlite_master WHERE type = 'table'`
	}
	tables, err := queryStrings(db, query)
	if err != nil || len(tables) < 5 {
		t.Fatalf("tables: %v %v", tables, err)
	}
	for _, table := range tables {
		rows, err := db.Query(fmt.Sprintf(`SELECT * FROM %q`, table))
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if s := fmt.Sprintf("%s", v); strings.Contains(s, needle) {
					t.Errorf("%s.%s holds a secret", table, cols[i])
				}
			}
		}
		_ = rows.Close()
	}
}

func queryStrings(db *sql.DB, query string) ([]string, error) {
	rows, err := db.Query(query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// waitWritten waits until the request log has written at least n rows.
func waitWritten(t *testing.T, srv *kit.Server, n int64) {
	t.Helper()
	kittest.WaitFor(t, fmt.Sprintf("%d request-log rows", n), func() bool { return srv.LogStats().Written >= n })
}
