package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/switchboardkit/switchboard/kit/kittest"
)

// petstore runs the example binary on a free loopback port with its own
// database, and returns its address and an API key with every scope.
func petstore(t *testing.T) (addr, key string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the example binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "petstore")
	build := exec.Command("go", "build", "-o", bin, "../../examples/petstore")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build the example: %v", err)
	}
	dsn := "sqlite:" + filepath.Join(dir, "petstore.db")
	out, _, err := cli(t, "keys", "create", "--name", "cli-tests", "--scope", "*", "--dsn", dsn)
	if err != nil {
		t.Fatal(err)
	}
	key = strings.TrimSpace(out)

	server := kittest.StartProcess(t, exec.Command(bin, "-addr", "127.0.0.1:0", "-dsn", dsn))
	t.Cleanup(func() { _ = server.Stop() })
	return server.Addr, key
}

func cliIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestCLI_ListDescribeTemplate(t *testing.T) {
	addr, key := petstore(t)
	out, _, err := cli(t, "list", "--plaintext", "--api-key", key, addr)
	if err != nil || !strings.Contains(out, "petstore.v1.PetStoreService\n") || !strings.Contains(out, "grpc.health.v1.Health\n") {
		t.Errorf("list: %v\n%s", err, out)
	}
	out, _, err = cli(t, "list", "--plaintext", "--api-key", key, addr, "petstore.v1.PetStoreService")
	if err != nil || strings.Count(out, "\n") != 7 || !strings.Contains(out, "petstore.v1.PetStoreService/WatchPets") {
		t.Errorf("list service: %v\n%s", err, out)
	}
	out, _, err = cli(t, "describe", "--plaintext", "--api-key", key, addr, "petstore.v1.PetStoreService")
	if err != nil || !strings.Contains(out, "rpc ImportPets(stream petstore.v1.ImportPetsRequest) returns (petstore.v1.ImportPetsResponse);") {
		t.Errorf("describe service: %v\n%s", err, out)
	}
	out, _, err = cli(t, "describe", "--plaintext", "--api-key", key, addr, "petstore.v1.Species")
	if err != nil || !strings.Contains(out, "SPECIES_REPTILE = 5;") {
		t.Errorf("describe enum: %v\n%s", err, out)
	}
	out, _, err = cli(t, "template", "--plaintext", "--api-key", key, addr, "petstore.v1.CreatePetRequest")
	var tmpl map[string]map[string]any
	if err != nil || json.Unmarshal([]byte(out), &tmpl) != nil || len(tmpl["pet"]) != 6 {
		t.Errorf("template: %v\n%s", err, out)
	}
	// Output-only fields are left out; a list of strings is empty, not [""],
	// which the server's own validation would refuse.
	if _, has := tmpl["pet"]["createTime"]; has || fmt.Sprint(tmpl["pet"]["tags"]) != "[]" {
		t.Errorf("template keeps output-only fields or a zero tag:\n%s", out)
	}
	out, _, _ = cli(t, "template", "--types", "--plaintext", "--api-key", key, addr, "petstore.v1.Pet")
	if !strings.Contains(out, `"enum petstore.v1.Species: SPECIES_UNSPECIFIED | SPECIES_DOG`) {
		t.Errorf("template --types:\n%s", out)
	}
}

func TestCLI_CallEveryShapeOverEveryProtocol(t *testing.T) {
	addr, key := petstore(t)
	for _, protocol := range []string{"connect", "grpc", "grpcweb"} {
		t.Run(protocol, func(t *testing.T) {
			base := []string{"call", "--plaintext", "--api-key", key, "--protocol", protocol}
			// Unary, from -d.
			out, errOut, err := cli(t, append(base, "-d", `{"pet":{"name":"Rex","species":"SPECIES_DOG","status":"PET_STATUS_AVAILABLE"}}`,
				addr, "petstore.v1.PetStoreService/CreatePet")...)
			if err != nil || !strings.Contains(out, `"name": "Rex"`) {
				t.Fatalf("CreatePet: %v\n%s%s", err, out, errOut)
			}
			// Server stream: watch for one event while a pet is created.
			watched := make(chan string, 1)
			go func() {
				out, errOut, err := cli(t, append(base, "-d", `{"max_events":1}`, addr, "petstore.v1.PetStoreService/WatchPets")...)
				if err != nil {
					out += errOut + err.Error()
				}
				watched <- out
			}()
			// The watcher subscribes at some point after it starts: create
			// pets until it has seen one.
			var got string
			kittest.WaitFor(t, "the watcher to see a created pet", func() bool {
				_, _, _ = cli(t, append(base, "-d", `{"pet":{"name":"Tom","species":"SPECIES_CAT","status":"PET_STATUS_PENDING"}}`,
					addr, "petstore.v1.PetStoreService/CreatePet")...)
				select {
				case got = <-watched:
					return true
				default:
					return false
				}
			})
			if !strings.Contains(got, `"type": "EVENT_TYPE_CREATED"`) {
				t.Errorf("WatchPets: %q", got)
			}
			// Client stream, from stdin: a sequence of objects.
			out, errOut, err = cliIn(t, `{"pet":{"name":"A","species":"SPECIES_BIRD","status":"PET_STATUS_AVAILABLE"}}
{"pet":{"name":"B","species":"SPECIES_FISH","status":"PET_STATUS_AVAILABLE"}}`,
				append(base, addr, "petstore.v1.PetStoreService/ImportPets")...)
			if err != nil || !strings.Contains(out, `"created": 2`) {
				t.Errorf("ImportPets: %v\n%s%s", err, out, errOut)
			}
		})
	}
}

func TestCLI_ErrorsPrintDecodedStatusAndExitByCode(t *testing.T) {
	addr, key := petstore(t)
	_, errOut, err := cli(t, "call", "--plaintext", "--api-key", key, "-d", `{"pet":{"name":""}}`,
		addr, "petstore.v1.PetStoreService/CreatePet")
	var rpc rpcExit
	if !errors.As(err, &rpc) || rpc.code != connect.CodeInvalidArgument {
		t.Fatalf("error = %v, want an rpc exit with invalid_argument (status 67)", err)
	}
	var st struct {
		Code    string            `json:"code"`
		Details []json.RawMessage `json:"details"`
	}
	if err := json.Unmarshal([]byte(errOut), &st); err != nil {
		t.Fatalf("stderr is not the status as JSON: %v\n%s", err, errOut)
	}
	if st.Code != "invalid_argument" || !strings.Contains(errOut, `"@type": "type.googleapis.com/google.rpc.BadRequest"`) ||
		!strings.Contains(errOut, `"field": "pet.name"`) {
		t.Errorf("status:\n%s", errOut)
	}
	_, _, err = cli(t, "call", "--plaintext", "--api-key", key, "-d", `{"id":424242}`, addr, "petstore.v1.PetStoreService/GetPet")
	if !errors.As(err, &rpc) || rpc.code != connect.CodeNotFound {
		t.Errorf("GetPet missing: %v", err)
	}
	_, _, err = cli(t, "list", "--plaintext", addr)
	if err == nil || !strings.Contains(err.Error(), "refused reflection") {
		t.Errorf("list without a key: %v", err)
	}
	_, _, err = cli(t, "call", "--plaintext", "--api-key", key, "-d", `{"nope":1}`, addr, "petstore.v1.PetStoreService/GetPet")
	if err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("bad request JSON: %v", err)
	}
}

func TestCLI_ProtoFilesWithoutReflection(t *testing.T) {
	addr, key := petstore(t)
	out, _, err := cli(t, "call", "--plaintext", "--api-key", key, "--protocol", "grpc",
		"--proto", "petstore/v1/petstore.proto", "-I", "../../examples/petstore/proto", "-I", "../../proto", "-I", "../../third_party/proto",
		"-d", `{"page_size":1}`, addr, "petstore.v1.PetStoreService/ListPets")
	if err != nil || !strings.HasPrefix(out, "{") {
		t.Errorf("call with --proto: %v\n%s", err, out)
	}
}

// A plain gRPC-Go server (its own reflection and health): what grpcurl users
// point tools at.
func startGRPCGo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

func TestCLI_CallsAPlainGRPCServerWithNoProtocolFlag(t *testing.T) {
	addr := startGRPCGo(t)
	out, stderr, err := cli(t, "call", "--plaintext", "-d", "{}", addr, "grpc.health.v1.Health/Check")
	if err != nil || !strings.Contains(out, "SERVING") {
		t.Fatalf("call with the default protocol: %v\n%s%s", err, out, stderr)
	}
	_, stderr, err = cli(t, "call", "--plaintext", "--protocol", "connect", "-d", "{}", addr, "grpc.health.v1.Health/Check")
	if err == nil || !strings.Contains(stderr+err.Error(), "--protocol grpc") {
		t.Errorf("Connect against a gRPC-only server: %v, want a hint to use --protocol grpc:\n%s", err, stderr)
	}
}

func TestCLI_TLSAgainstAPlaintextServerSuggestsPlaintext(t *testing.T) {
	addr := startGRPCGo(t)
	_, _, err := cli(t, "list", addr)
	if err == nil || !strings.Contains(err.Error(), "add --plaintext") {
		t.Errorf("TLS against plaintext: %v, want a hint to add --plaintext", err)
	}
}
