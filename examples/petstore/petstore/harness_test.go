package petstore

// Test harness: a real kit server on loopback with the pet store registered,
// and the same unary API reached through four real clients.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/gen/petstore/v1/petstorev1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
)

type testEnv struct {
	srv *kit.Server
	svc *Service
	run *kittest.Running
	// key is an API key with every pet store scope.
	key string
}

func start(t *testing.T, dsn string, mutate func(*kit.Config)) *testEnv {
	t.Helper()
	cfg := kittest.Config(dsn)
	cfg.Logger = kittest.Logger(t)
	cfg.Migrations = []kit.Migrations{{Name: "petstore", Set: Migrations()}}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := kit.New(cfg)
	if err != nil {
		t.Fatalf("kit.New: %v", err)
	}
	svc := New(srv.DB(), srv.ReadDB(), srv.Validator(), srv.Cluster())
	petstorev1connect.RegisterPetStoreServiceHandler(srv.RPC(), svc)
	key := kittest.APIKey(t, srv, "tests", petstorev1connect.PetStoreServiceName+"/*", "grpc.reflection.*/*")
	return &testEnv{srv: srv, svc: svc, run: kittest.Start(t, srv), key: key}
}

func kittestKey(t *testing.T, e *testEnv, scopes ...string) string {
	return kittest.APIKey(t, e.srv, "scoped", scopes...)
}

// waitWatchers waits until n WatchPets streams are subscribed, so a write
// made next is seen by all of them.
func (e *testEnv) waitWatchers(t *testing.T, n int) {
	t.Helper()
	kittest.WaitFor(t, fmt.Sprintf("%d watchers to subscribe", n), func() bool { return e.svc.hub.count() >= n })
}

// unaryAPI is the unary part of the pet store, as every client offers it.
type unaryAPI interface {
	CreatePet(context.Context, *petstorev1.CreatePetRequest) (*petstorev1.CreatePetResponse, error)
	GetPet(context.Context, *petstorev1.GetPetRequest) (*petstorev1.GetPetResponse, error)
	ListPets(context.Context, *petstorev1.ListPetsRequest) (*petstorev1.ListPetsResponse, error)
	UpdatePet(context.Context, *petstorev1.UpdatePetRequest) (*petstorev1.UpdatePetResponse, error)
	DeletePet(context.Context, *petstorev1.DeletePetRequest) (*petstorev1.DeletePetResponse, error)
}

// clients returns the pet store as seen by each kind of user: curl (Connect
// JSON over HTTP/1.1), a Connect client (binary over h2c), a gRPC-Web client
// (HTTP/1.1), gRPC-Go (HTTP/2) and a REST user of the google.api.http
// routes (HTTP/1.1, JSON).
func (e *testEnv) clients(t *testing.T) map[string]unaryAPI {
	return map[string]unaryAPI{
		"curl-json-http1":  &curlClient{base: e.run.URL, key: e.key},
		"connect-proto-h2": e.connectClient(kittest.WithBearer(kittest.H2CClient(), e.key)),
		"grpcweb-http1":    e.connectClient(kittest.WithBearer(http1Client(), e.key), connecthttp.WithGRPCWeb()),
		"grpc-go":          &grpcClient{conn: e.grpcConn(t)},
		"rest-json-http1":  &restClient{base: e.run.URL, key: e.key},
	}
}

func (e *testEnv) connectClient(hc *http.Client, opts ...connecthttp.Option) petstorev1connect.PetStoreServiceClient {
	return petstorev1connect.NewPetStoreServiceClient(
		connect.NewClient(connecthttp.NewTransport(hc, e.run.URL, opts...)))
}

func (e *testEnv) grpcConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(e.run.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(kittest.Bearer(e.key)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func http1Client() *http.Client {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	return &http.Client{Transport: &http.Transport{Protocols: protocols}}
}

// curlClient sends what `curl -H 'Content-Type: application/json' -d …`
// sends: a Connect unary POST with a JSON body over HTTP/1.1.
type curlClient struct{ base, key string }

func (c *curlClient) CreatePet(ctx context.Context, req *petstorev1.CreatePetRequest) (*petstorev1.CreatePetResponse, error) {
	return postJSON(ctx, c, "CreatePet", req, new(petstorev1.CreatePetResponse))
}
func (c *curlClient) GetPet(ctx context.Context, req *petstorev1.GetPetRequest) (*petstorev1.GetPetResponse, error) {
	return postJSON(ctx, c, "GetPet", req, new(petstorev1.GetPetResponse))
}
func (c *curlClient) ListPets(ctx context.Context, req *petstorev1.ListPetsRequest) (*petstorev1.ListPetsResponse, error) {
	return postJSON(ctx, c, "ListPets", req, new(petstorev1.ListPetsResponse))
}
func (c *curlClient) UpdatePet(ctx context.Context, req *petstorev1.UpdatePetRequest) (*petstorev1.UpdatePetResponse, error) {
	return postJSON(ctx, c, "UpdatePet", req, new(petstorev1.UpdatePetResponse))
}
func (c *curlClient) DeletePet(ctx context.Context, req *petstorev1.DeletePetRequest) (*petstorev1.DeletePetResponse, error) {
	return postJSON(ctx, c, "DeletePet", req, new(petstorev1.DeletePetResponse))
}

// jsonError is the Connect protocol's JSON error body.
type jsonError struct {
	Code    connect.Code `json:"code"`
	Message string       `json:"message"`
	Details []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"details"`
}

func (e *jsonError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

func postJSON[Res proto.Message](ctx context.Context, c *curlClient, method string, req proto.Message, res Res) (Res, error) {
	var zero Res
	body, err := protojson.Marshal(req)
	if err != nil {
		return zero, err
	}
	url := c.base + "/" + petstorev1connect.PetStoreServiceName + "/" + method
	resp, data, err := send(ctx, http.MethodPost, url, body, bearer(c.key))
	if err != nil {
		return zero, err
	}
	if resp.Proto != "HTTP/1.1" {
		return zero, fmt.Errorf("served over %s, want HTTP/1.1", resp.Proto)
	}
	if resp.StatusCode != http.StatusOK {
		jerr := new(jsonError)
		if err := json.Unmarshal(data, jerr); err != nil {
			return zero, fmt.Errorf("HTTP %d with a body that is not a Connect error: %q", resp.StatusCode, data)
		}
		return zero, jerr
	}
	if err := protojson.Unmarshal(data, res); err != nil {
		return zero, err
	}
	return res, nil
}

// send makes one HTTP/1.1 request as curl would — a body, when there is
// one, as JSON, then header — and returns the answer read whole.
func send(ctx context.Context, method, url string, body []byte, header map[string]string) (*http.Response, []byte, error) {
	var reader io.Reader
	if len(body) > 0 {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, reader)
	if err != nil {
		return nil, nil, err
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http1Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

// bearer is the header that carries key, none for "".
func bearer(key string) map[string]string {
	if key == "" {
		return nil
	}
	return map[string]string{"Authorization": "Bearer " + key}
}

// grpcClient calls the pet store through gRPC-Go with the generated
// messages, as any gRPC service's client would.
type grpcClient struct{ conn *grpc.ClientConn }

func (c *grpcClient) CreatePet(ctx context.Context, req *petstorev1.CreatePetRequest) (*petstorev1.CreatePetResponse, error) {
	return invoke(ctx, c, petstorev1connect.PetStoreServiceCreatePetProcedure, req, new(petstorev1.CreatePetResponse))
}
func (c *grpcClient) GetPet(ctx context.Context, req *petstorev1.GetPetRequest) (*petstorev1.GetPetResponse, error) {
	return invoke(ctx, c, petstorev1connect.PetStoreServiceGetPetProcedure, req, new(petstorev1.GetPetResponse))
}
func (c *grpcClient) ListPets(ctx context.Context, req *petstorev1.ListPetsRequest) (*petstorev1.ListPetsResponse, error) {
	return invoke(ctx, c, petstorev1connect.PetStoreServiceListPetsProcedure, req, new(petstorev1.ListPetsResponse))
}
func (c *grpcClient) UpdatePet(ctx context.Context, req *petstorev1.UpdatePetRequest) (*petstorev1.UpdatePetResponse, error) {
	return invoke(ctx, c, petstorev1connect.PetStoreServiceUpdatePetProcedure, req, new(petstorev1.UpdatePetResponse))
}
func (c *grpcClient) DeletePet(ctx context.Context, req *petstorev1.DeletePetRequest) (*petstorev1.DeletePetResponse, error) {
	return invoke(ctx, c, petstorev1connect.PetStoreServiceDeletePetProcedure, req, new(petstorev1.DeletePetResponse))
}

func invoke[Res proto.Message](ctx context.Context, c *grpcClient, procedure string, req proto.Message, res Res) (Res, error) {
	if err := c.conn.Invoke(ctx, procedure, req, res); err != nil {
		var zero Res
		return zero, err
	}
	return res, nil
}

// rpcError is what a test asserts about a failed call, whichever client
// made it: the code and the fields named by google.rpc.BadRequest.
type rpcError struct {
	code   connect.Code
	fields []string
}

func inspect(t *testing.T, err error) rpcError {
	t.Helper()
	var out rpcError
	var details []proto.Message
	var cerr *connect.Error
	var jerr *jsonError
	var rerr *restError
	switch {
	case err == nil:
		t.Fatal("call succeeded, want an error")
	case errors.As(err, &rerr):
		out.code = connect.Code(rerr.status.GetCode())
		if want := restHTTPStatus[out.code]; rerr.httpStatus != want {
			t.Errorf("%v: HTTP status %d, want %d for %s", err, rerr.httpStatus, want, out.code)
		}
		details = rerr.details
	case errors.As(err, &cerr):
		out.code = cerr.Code()
		for _, d := range cerr.Details() {
			msg, derr := connectproto.UnmarshalErrorDetail(d)
			if derr != nil {
				t.Fatalf("undecodable detail: %v", derr)
			}
			details = append(details, msg)
		}
	case errors.As(err, &jerr):
		out.code = jerr.Code
		for _, d := range jerr.Details {
			if d.Type != "google.rpc.BadRequest" {
				continue
			}
			raw, derr := base64.RawStdEncoding.DecodeString(d.Value)
			br := new(errdetails.BadRequest)
			if derr != nil || proto.Unmarshal(raw, br) != nil {
				t.Fatalf("undecodable BadRequest detail %q", d.Value)
			}
			details = append(details, br)
		}
	default:
		st, ok := status.FromError(err)
		if !ok {
			t.Fatalf("not an RPC error: %v", err)
		}
		out.code = connect.Code(st.Code())
		for _, d := range st.Details() {
			if msg, ok := d.(proto.Message); ok {
				details = append(details, msg)
			}
		}
	}
	_, _, out.fields, _ = summarize(details)
	slices.Sort(out.fields)
	return out
}

func dog(name string) *petstorev1.Pet {
	return &petstorev1.Pet{
		Name:     name,
		Species:  petstorev1.Species_SPECIES_DOG,
		AgeYears: 3,
		Tags:     []string{"good", "loud"},
		Status:   petstorev1.PetStatus_PET_STATUS_AVAILABLE,
	}
}
