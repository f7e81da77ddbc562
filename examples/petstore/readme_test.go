package main

// Every command README.md shows against the running example, run as written
// (with the port the test's server got): the CLI through `go run`, curl,
// grpcurl and buf through the tools module. A command that stops working
// fails here, not in a reader's terminal.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboardkit/switchboard/kit/kittest"
)

// readmeBlocks returns the ```sh blocks of README.md, in order.
func readmeBlocks(t *testing.T) []string { return readBlocks(t, "../../README.md") }

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
	addr := startExampleFor(t, dir, env)

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
	run := exec.CommandContext(t.Context(), "bash", "-c", script)
	run.Dir, run.Env = repo, append(env, "WATCH_OUT="+watchOut)
	out, err := run.CombinedOutput()
	t.Logf("the README's commands:\n%s", out)
	if err != nil {
		t.Fatalf("a README command failed: %v", err)
	}
	for _, want := range []string{
		`"name":"Rex"`,                // curl CreatePet
		`"code":"invalid_argument"`,   // the invalid CreatePet
		`"SPECIES_CAT"`,               // the REST routes
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

// startExampleFor runs the example binary in dir with env on a free port
// until the test ends, and returns its address.
func startExampleFor(t *testing.T, dir string, env []string) string {
	t.Helper()
	server := exec.Command(exampleBinary(t), "-addr", "127.0.0.1:0")
	server.Dir, server.Env = dir, env
	return kittest.StartProcess(t, server).Addr
}

// The commands docs/ shows against a running example: docs/dynamic.md's
// session (each "$ " line; where the doc prints "exit N", the same exit
// status), docs/auth.md's key commands, docs/monitoring.md's admin call.
func TestDocs_CommandsRunAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the docs' commands against the example")
	}
	dir := t.TempDir()
	bin := filepath.Dir(buildCLI(t, filepath.Join(dir, "bin")))
	env := append(os.Environ(), "SWITCHBOARD_DSN=sqlite:"+filepath.Join(dir, "docs.db"),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	addr := startExampleFor(t, dir, env)
	bash := func(script string) (string, error) {
		cmd := exec.Command("bash", "-c", strings.ReplaceAll(script, "localhost:8080", addr))
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	keyOut, err := bash(`switchboard keys create --name docs --scope '*' --scope admin 2>/dev/null`)
	if err != nil {
		t.Fatalf("keys create: %v %s", err, keyOut)
	}
	key := strings.TrimSpace(keyOut)
	env = append(env, "KEY="+key, "ADMIN_KEY="+key)

	doc, err := os.ReadFile("../../docs/dynamic.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(doc), "\n")
	ran := 0
	for i, line := range lines {
		command, ok := strings.CutPrefix(line, "$ ")
		if !ok {
			continue
		}
		ran++
		out, err := bash(command)
		wantExit := ""
		for _, next := range lines[i+1:] {
			if strings.HasPrefix(next, "$ ") || strings.HasPrefix(next, "```") {
				break
			}
			if strings.HasPrefix(next, "exit ") {
				wantExit = next
			}
		}
		switch {
		case wantExit != "" && !strings.Contains(out, wantExit):
			t.Errorf("docs/dynamic.md: %s\nwant %q, got:\n%s", command, wantExit, out)
		case wantExit == "" && err != nil:
			t.Errorf("docs/dynamic.md: %s\n%v\n%s", command, err, out)
		}
	}
	if ran < 10 {
		t.Errorf("ran %d commands from docs/dynamic.md: its session moved?", ran)
	}

	// docs/auth.md's key commands, with a real id for the revoke.
	auth := readBlocks(t, "../../docs/auth.md")[0]
	id := strings.Split(strings.TrimPrefix(key, "sb_"), "_")[0]
	if out, err := bash(strings.ReplaceAll(auth, "ox6aszn3eeqq", id)); err != nil || !strings.Contains(out, "revoked "+id) {
		t.Errorf("docs/auth.md's key commands: %v\n%s", err, out)
	}
	// docs/monitoring.md's admin call (with a fresh admin key: the one above
	// was just revoked).
	fresh, err := bash(`switchboard keys create --name ops --scope admin 2>/dev/null`)
	if err != nil {
		t.Fatal(err)
	}
	env = append(env, "ADMIN_KEY="+strings.TrimSpace(fresh))
	if out, err := bash(readBlocks(t, "../../docs/monitoring.md")[0]); err != nil || !strings.Contains(out, `"stats"`) {
		t.Errorf("docs/monitoring.md's GetOverview: %v\n%s", err, out)
	}
}

// buildCLI builds the switchboard CLI into dir and returns its path.
func buildCLI(t *testing.T, dir string) string {
	t.Helper()
	cli := filepath.Join(dir, "switchboard")
	build := exec.Command("go", "build", "-o", cli, "./cmd/switchboard")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the CLI: %v\n%s", err, out)
	}
	return cli
}

// readBlocks returns the ```sh blocks of a Markdown file.
func readBlocks(t *testing.T, path string) []string { return readFenced(t, path, "sh") }

// readFenced returns the blocks of a Markdown file fenced as ```lang.
func readFenced(t *testing.T, path, lang string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur *strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case cur == nil && line == "```"+lang:
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
