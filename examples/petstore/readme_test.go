package main

// Every command README.md shows against the running example, run as written
// (with the port the test's server got): the CLI through `go run`, curl,
// grpcurl and buf through the tools module. A command that stops working
// fails here, not in a reader's terminal.

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeBlocks returns the ```sh blocks of README.md, in order.
func readmeBlocks(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur *strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case cur == nil && line == "```sh":
			cur = new(strings.Builder)
		case cur != nil && line == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return blocks
}

func TestREADME_EveryCommandRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the README's commands against the example")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed to run the README's commands", tool)
			}
			t.Skipf("no %s here", tool)
		}
	}
	blocks := readmeBlocks(t)
	if len(blocks) < 8 || !strings.Contains(blocks[0], "go run ./examples/petstore") || !strings.Contains(blocks[1], "go test") {
		t.Fatalf("README.md's blocks moved: %d blocks, first %q", len(blocks), blocks[0])
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := append(os.Environ(), "SWITCHBOARD_DSN=sqlite:"+filepath.Join(dir, "readme.db"))

	// grpcurl, pinned in the tools module, on the PATH as the README calls it.
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-modfile=tools/go.mod", "-o", filepath.Join(bin, "grpcurl"), "github.com/fullstorydev/grpcurl/cmd/grpcurl")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build grpcurl: %v\n%s", err, out)
	}
	env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	// The first block, the example, on a free port and a database of the
	// test's own.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	server := exec.CommandContext(ctx, exampleBinary(t), "-addr", "127.0.0.1:0")
	server.Dir, server.Env = dir, env
	stderr, err := server.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = server.Process.Kill(); _ = server.Wait() }()
	var addr string
	listening := regexp.MustCompile(`msg=listening addr=(127\.0\.0\.1:\d+)`)
	for lines := bufio.NewScanner(stderr); addr == "" && lines.Scan(); {
		if m := listening.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatal("the example did not start")
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	script := "set -euo pipefail\n" + strings.Join(blocks[2:], "\n")
	script = strings.ReplaceAll(script, "localhost:8080", addr)
	// WatchPets waits for a change, made "from a second shell": here the
	// line runs in the background while the script creates a pet.
	script = regexp.MustCompile(`(?m)^grpcurl .*WatchPets$`).ReplaceAllStringFunc(script, func(watch string) string {
		return watch + ` > "$WATCH_OUT" &` + "\nWATCH=$!\nsleep 1\n" +
			`curl -s -H 'Content-Type: application/json' -H "Authorization: Bearer $KEY" ` +
			`-d '{"pet":{"name":"Zed","species":"SPECIES_CAT","status":"PET_STATUS_AVAILABLE"}}' ` +
			"http://" + addr + "/petstore.v1.PetStoreService/CreatePet > /dev/null\nwait $WATCH"
	})
	watchOut := filepath.Join(dir, "watch.json")
	run := exec.CommandContext(ctx, "bash", "-c", script)
	run.Dir, run.Env = repo, append(env, "WATCH_OUT="+watchOut)
	out, err := run.CombinedOutput()
	t.Logf("the README's commands:\n%s", out)
	if err != nil {
		t.Fatalf("a README command failed: %v", err)
	}
	for _, want := range []string{
		`"name":"Rex"`,                // curl CreatePet
		`"code":"invalid_argument"`,   // the invalid CreatePet
		"petstore.v1.PetStoreService", // grpcurl list, describe
		`"status": "SERVING"`,         // grpcurl health
		`"createTime"`,                // buf curl over gRPC, gRPC-Web and HTTP/1.1
		`"created": 2`,                // buf curl ImportPets
		`"ageYears": 0`,               // switchboard template
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the README's commands printed no %s", want)
		}
	}
	if data, _ := os.ReadFile(watchOut); !strings.Contains(string(data), "Zed") {
		t.Errorf("WatchPets did not see the pet made while it waited: %s", data)
	}
}
