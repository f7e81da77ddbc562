package main

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboardkit/switchboard/kit/kittest"
)

// The kit's files the scaffold carries are copies; they must not drift.
func TestNew_CarriedFilesMatchTheKit(t *testing.T) {
	for embedded, kit := range map[string]string{
		"scaffold/files/options.proto":                "../../proto/switchboard/v1/options.proto",
		"scaffold/files/tools.go.mod":                 "../../tools/go.mod",
		"scaffold/files/tools.go.sum":                 "../../tools/go.sum",
		"scaffold/files/google_api_annotations.proto": "../../third_party/proto/google/api/annotations.proto",
		"scaffold/files/google_api_http.proto":        "../../third_party/proto/google/api/http.proto",
	} {
		a, err := os.ReadFile(embedded)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(kit)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("cmd/switchboard/%s differs from %s: copy it again", embedded, kit)
		}
	}
}

func TestNew_UsageErrors(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"new", "--module", "example.com/x"}, "missing DIR"},
		{[]string{"new", t.TempDir() + "/a", "--module", "not a path"}, "is not a module path"},
		{[]string{"new", t.TempDir() + "/a"}, "is not a module path"},
	} {
		_, stderr, err := cli(t, tc.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "Usage:") != 1 {
			t.Errorf("%q: %v\n%s", tc.args, err, stderr)
		}
	}
	if _, _, err := cli(t, "new", full, "--module", "example.com/x", "--replace", "../.."); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("into a non-empty directory: %v", err)
	}
}

// From an empty folder to a running service, as a new user goes: scaffold
// (against this checkout), generate, build, test, run, and call it with curl
// and with the CLI over gRPC, using the admin key its first start printed.
func TestNew_ScaffoldBuildsTestsRunsAndAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("scaffolds, generates and builds a whole project")
	}
	kit, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "hello")
	if out, stderr, err := cli(t, "new", dir, "--module", "example.com/hello", "--replace", kit); err != nil {
		t.Fatalf("switchboard new: %v\n%s%s", err, out, stderr)
	}
	for _, f := range []string{"go.mod", "tools/go.mod", "buf.yaml", "buf.gen.yaml", "proto/hello/v1/greeter.proto",
		"gen/hello/v1/greeter.pb.go", "gen/hello/v1/hellov1connect/greeter.connect.go", "main.go", "greeter_test.go",
		"README.md", ".gitignore", "third_party/switchboard/switchboard/v1/options.proto",
		"buf.gen.openapi.yaml", "openapi/openapi.yaml", "openapi/openapi.json", "openapi/openapi.go"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	gen, _ := os.ReadFile(filepath.Join(dir, "gen/hello/v1/greeter.pb.go"))
	if bytes.Contains(gen, []byte(`"example.com/hello/gen/switchboard`)) {
		t.Error("the kit's options.proto was generated into the project: it would be registered twice")
	}
	goCmd := func(args ...string) {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	goCmd("tool", "-modfile=tools/go.mod", "buf", "lint")
	goCmd("tool", "-modfile=tools/go.mod", "buf", "generate") // again: what docs/getting-started.md shows
	goCmd("vet", "./...")
	goCmd("test", "-count=1", "./...")
	goCmd("build", "-o", "hello", ".")

	cmd := exec.Command(filepath.Join(dir, "hello"), "-addr", "127.0.0.1:0")
	cmd.Dir = dir
	server := kittest.StartProcess(t, cmd)
	addr := server.Addr
	key := regexp.MustCompile(`sb_[a-z0-9]+_[A-Za-z0-9_-]+`).FindString(server.Stderr.String())
	if key == "" {
		t.Fatalf("the service did not print its first admin key:\n%s", server.Stderr)
	}

	res, err := http.Post("http://"+addr+"/hello.v1.GreeterService/Greet", "application/json", strings.NewReader(`{"name":"Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if !strings.Contains(string(body), "Hello, Ada!") {
		t.Fatalf("curl Greet: %d %s", res.StatusCode, body)
	}
	// A not-found error carries its ErrorInfo and the request id.
	res, err = http.Post("http://"+addr+"/hello.v1.GreeterService/GetGreeting", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"reason":"NOT_FOUND"`) ||
		!strings.Contains(string(body), `"request_id":"`+res.Header.Get("X-Request-Id")+`"`) {
		t.Fatalf("GetGreeting before a greeting is set: %d %s", res.StatusCode, body)
	}
	// Its REST route, from the google.api.http option in its own proto, and
	// the OpenAPI contract generated from that proto by the kit's plugin.
	for path, want := range map[string]string{
		"/v1/greet/Ada": "Hello, Ada!",
		"/openapi.json": `"/v1/greet/{name}"`,
		"/docs/":        "swagger-ui-bundle.js",
	} {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, body)
		}
	}
	// The browser's way: a GET of the side-effect-free Greet.
	res, err = http.Get("http://" + addr + "/hello.v1.GreeterService/Greet?encoding=json&message=%7B%22name%22%3A%22Ada%22%7D")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	_ = res.Body.Close()
	if !strings.Contains(string(body), "Hello, Ada!") {
		t.Fatalf("GET Greet: %d %s", res.StatusCode, body)
	}
	if out, errOut, err := cli(t, "call", "--plaintext", "--protocol", "grpc", "--api-key", key,
		"-d", `{"word":"Hi"}`, addr, "hello.v1.GreeterService/SetGreeting"); err != nil {
		t.Fatalf("switchboard call SetGreeting over gRPC: %v\n%s%s", err, out, errOut)
	}
	out, errOut, err := cli(t, "call", "--plaintext", "--protocol", "grpc", "--api-key", key, // reflection is protected
		"-d", `{"name":"Ada"}`, addr, "hello.v1.GreeterService/Greet")
	if err != nil || !strings.Contains(out, "Hi, Ada!") {
		t.Fatalf("switchboard call Greet over gRPC: %v\n%s%s", err, out, errOut)
	}
	// The rules declared in the service's own proto reach clients through
	// reflection.
	out, errOut, err = cli(t, "describe", "--plaintext", "--api-key", key, addr, "hello.v1.GreetRequest")
	if err != nil || !strings.Contains(out, `string name = 1 [(switchboard.v1.rules) = "required,max=64"];`) {
		t.Fatalf("switchboard describe GreetRequest: %v\n%s%s", err, out, errOut)
	}
	// grpcurl, as getting-started.md shows it (pinned in the kit's tools module).
	grpcurl := exec.Command("go", "tool", "-modfile="+filepath.Join(kit, "tools", "go.mod"), "grpcurl",
		"-plaintext", "-H", "authorization: Bearer "+key, "-d", `{"name":"Ada"}`, addr, "hello.v1.GreeterService/Greet")
	grpcurl.Dir = kit
	if gout, err := grpcurl.CombinedOutput(); err != nil || !strings.Contains(string(gout), "Hi, Ada!") {
		t.Fatalf("grpcurl Greet: %v\n%s", err, gout)
	}
	if err := server.Stop(); err != nil {
		t.Errorf("the service did not exit cleanly on SIGTERM: %v", err)
	}

	// Adding a method, as getting-started.md describes it: declare it in the
	// proto, regenerate, implement it with the generated signature, build.
	proto := filepath.Join(dir, "proto/hello/v1/greeter.proto")
	src, err := os.ReadFile(proto)
	if err != nil {
		t.Fatal(err)
	}
	added := strings.Replace(string(src), "service GreeterService {", `service GreeterService {
  // Farewell is public.
  rpc Farewell(FarewellRequest) returns (FarewellResponse) {
    option (switchboard.v1.access) = ACCESS_PUBLIC;
  }`, 1) + `
message FarewellRequest {
  string name = 1 [(switchboard.v1.rules) = "required,max=64"];
}

message FarewellResponse {
  string farewell = 1;
}
`
	if err := os.WriteFile(proto, []byte(added), 0o644); err != nil {
		t.Fatal(err)
	}
	goCmd("tool", "-modfile=tools/go.mod", "buf", "generate")
	goCmd("tool", "-modfile=tools/go.mod", "buf", "lint")
	if err := os.WriteFile(filepath.Join(dir, "farewell.go"), []byte(`package main

import (
	"context"

	hellov1 "example.com/hello/gen/hello/v1"
)

// Farewell says goodbye.
func (g *Greeter) Farewell(_ context.Context, req *hellov1.FarewellRequest) (*hellov1.FarewellResponse, error) {
	return &hellov1.FarewellResponse{Farewell: "Goodbye, " + req.GetName() + "!"}, nil
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	goCmd("vet", "./...")
	goCmd("test", "-count=1", "./...")
}
