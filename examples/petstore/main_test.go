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
	bin := filepath.Join(dir, "petstore")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
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

	resp, err := http.Post("http://"+addr+"/petstore.v1.PetStoreService/CreatePet", "application/json",
		strings.NewReader(`{"pet":{"name":"Rex","species":"SPECIES_DOG","status":"PET_STATUS_AVAILABLE"}}`))
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
