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

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0")
	cmd.Dir = dir // the default DSN puts data/switchboard.db here
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
	if _, err := os.Stat(filepath.Join(dir, "data", "switchboard.db")); err != nil {
		t.Errorf("default database file: %v", err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
}

// The first start on an empty database prints an admin key once, on
// stderr, that signs in to the admin API; the next start prints none.
func TestExample_FirstStartPrintsTheFirstAdminKey(t *testing.T) {
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
	start := func() (addr, stderr string) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0")
		cmd.Dir = dir
		pipe, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var seen strings.Builder
		listening := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
		lines := bufio.NewScanner(pipe)
		for addr == "" && lines.Scan() {
			seen.WriteString(lines.Text() + "\n")
			if m := listening.FindStringSubmatch(lines.Text()); m != nil {
				addr = m[1]
			}
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		rest, _ := io.ReadAll(pipe)
		_ = cmd.Wait()
		return addr, seen.String() + string(rest)
	}
	_, first := start()
	key := regexp.MustCompile(`sb_[a-z0-9]+_[A-Za-z0-9_-]+`).FindString(first)
	if key == "" || !strings.Contains(first, "/admin/") {
		t.Fatalf("the first start printed no admin key:\n%s", first)
	}
	if strings.Count(first, key) != 1 {
		t.Errorf("the key was printed %d times, want once", strings.Count(first, key))
	}
	if _, second := start(); regexp.MustCompile(`sb_[a-z0-9]+_`).MatchString(second) {
		t.Errorf("the second start printed a key:\n%s", second)
	}
}
