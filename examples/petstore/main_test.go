package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/switchboardkit/switchboard/kit/kittest"
)

// The README's first command, as a user runs it: the example binary starts
// on embedded SQLite with no setup, logs the address it bound, serves curl,
// and exits 0 on SIGTERM.
func TestExample_StartsServesAndStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	cli := filepath.Join(dir, "switchboard")
	if out, err := exec.Command("go", "build", "-o", cli, "../../cmd/switchboard").CombinedOutput(); err != nil {
		t.Fatalf("go build the CLI: %v\n%s", err, out)
	}
	// The README's way to get a key: the CLI, whose default database is the
	// example's.
	create := exec.Command(cli, "keys", "create", "--name", "readme", "--scope", "petstore.v1.PetStoreService/*")
	create.Dir = dir
	out, err := create.Output()
	if err != nil {
		t.Fatalf("switchboard keys create: %v", err)
	}
	key := strings.TrimSpace(string(out))
	if !strings.HasPrefix(key, "sb_") || strings.Contains(key, "\n") {
		t.Fatalf("keys create printed %q on stdout, want the key alone", out)
	}

	cmd := exec.Command(exampleBinary(t), "-addr", "127.0.0.1:0")
	cmd.Dir = dir // the default DSN puts data/switchboard.db here
	cmd.Env = append(os.Environ(), "SWITCHBOARD_SHUTDOWN_GRACE=5s")
	server := kittest.StartProcess(t, cmd)

	req, err := http.NewRequest(http.MethodPost, "http://"+server.Addr+"/petstore.v1.PetStoreService/CreatePet",
		strings.NewReader(`{"pet":{"name":"Rex","species":"SPECIES_DOG","status":"PET_STATUS_AVAILABLE"}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"Rex"`) {
		t.Fatalf("CreatePet = %d %s", resp.StatusCode, body)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "switchboard.db")); err != nil {
		t.Errorf("default database file: %v", err)
	}
	if err := server.Stop(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
}

// The first start on an empty database prints an admin key once, on
// stderr, that signs in to the admin API; the next start prints none.
func TestExample_FirstStartPrintsTheFirstAdminKey(t *testing.T) {
	dir := t.TempDir()
	start := func() string {
		cmd := exec.Command(exampleBinary(t), "-addr", "127.0.0.1:0")
		cmd.Dir = dir
		server := kittest.StartProcess(t, cmd)
		_ = server.Stop()
		return server.Stderr.String()
	}
	first := start()
	key := regexp.MustCompile(`sb_[a-z0-9]+_[A-Za-z0-9_-]+`).FindString(first)
	if key == "" || !strings.Contains(first, "/admin/") {
		t.Fatalf("the first start printed no admin key:\n%s", first)
	}
	if strings.Count(first, key) != 1 {
		t.Errorf("the key was printed %d times, want once", strings.Count(first, key))
	}
	if second := start(); regexp.MustCompile(`sb_[a-z0-9]+_`).MatchString(second) {
		t.Errorf("the second start printed a key:\n%s", second)
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// exampleBinary builds the example once for the tests that run it.
func exampleBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the example binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "petstore-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "petstore")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestExample_AFlagMistakeIsOneLineWithAHint(t *testing.T) {
	cmd := exec.Command(exampleBinary(t), "-port", "9000")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("-port 9000 succeeded")
	}
	text := strings.TrimSpace(string(out))
	if strings.Count(text, "\n") != 0 || !strings.Contains(text, "-port") || !strings.Contains(text, "-addr") {
		t.Errorf("want one line naming the flag and the hint, got:\n%s", text)
	}
}

func TestExample_APortInUseIsReportedBeforeMigrations(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	cmd := exec.Command(exampleBinary(t), "-addr", busy.Addr().String())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "address already in use") {
		t.Fatalf("a busy port: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "applied migrations") {
		t.Errorf("migrations ran before the port was found busy:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Errorf("the database was created before the port was found busy")
	}
}
