package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's first command, as a user runs it: the example binary starts
// on embedded SQLite with no setup, logs the address it bound, serves curl,
// and exits 0 on SIGTERM.
func TestExample_StartsServesAndStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example binary")
	}
	dir := t.TempDir()
	bin, cli := filepath.Join(dir, "petstore"), filepath.Join(dir, "switchboard")
	for out, pkg := range map[string]string{bin: ".", cli: "../../cmd/switchboard"} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			t.Fatalf("go build %s: %v", pkg, err)
		}
	}
	// The README's way to get a key: the CLI on the server's database.
	create := exec.Command(cli, "keys", "create", "--name", "readme", "--scope", "petstore.v1.PetStoreService/*",
		"--dsn", "sqlite:data/petstore.db")
	create.Dir = dir
	out, err := create.Output()
	if err != nil {
		t.Fatalf("switchboard keys create: %v", err)
	}
	key := strings.TrimSpace(string(out))
	if !strings.HasPrefix(key, "sb_") || strings.Contains(key, "\n") {
		t.Fatalf("keys create printed %q on stdout, want the key alone", out)
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0")
	cmd.Dir = dir // the default DSN puts data/petstore.db here
	cmd.Env = append(os.Environ(), "SWITCHBOARD_SHUTDOWN_GRACE=5s")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	lines := bufio.NewScanner(stderr)
	listening := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	var addr string
	for addr == "" && lines.Scan() {
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatal("the example never logged its address")
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/petstore.v1.PetStoreService/CreatePet",
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
	if _, err := os.Stat(filepath.Join(dir, "data", "petstore.db")); err != nil {
		t.Errorf("default database file: %v", err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
}
