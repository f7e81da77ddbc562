package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocs_RESTSessionRunsAsWritten runs docs/rest.md's session — each
// "$ " line of its console block, in order, on a fresh example — and
// compares every answer with the one the doc shows, times and request ids
// aside, and the spacing protojson varies on purpose.
func TestDocs_RESTSessionRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("runs docs/rest.md's session against the example")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is needed to run docs/rest.md's session")
		}
		t.Skip("no curl here")
	}
	dir := t.TempDir()
	cli := buildCLI(t, dir)
	env := append(os.Environ(), "SWITCHBOARD_DSN=sqlite:"+filepath.Join(dir, "rest.db"))
	addr := startExampleFor(t, dir, env)
	create := exec.Command(cli, "keys", "create", "--name", "me", "--scope", "*")
	create.Dir, create.Env = dir, env
	key, err := create.Output()
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	env = append(env, "KEY="+strings.TrimSpace(string(key)))

	session := restSession(t, "../../docs/rest.md")
	if len(session) < 8 {
		t.Fatalf("docs/rest.md's session has %d commands: did it move?", len(session))
	}
	for _, step := range session {
		cmd := exec.CommandContext(t.Context(), "bash", "-c", strings.ReplaceAll(step.command, "localhost:8080", addr))
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("docs/rest.md: %s\n%v\n%s", step.command, err, out)
			continue
		}
		if got, want := comparable(string(out)), comparable(step.output); got != want {
			t.Errorf("docs/rest.md: %s\nthe doc shows:\n%s\nthe server answered:\n%s", step.command, step.output, out)
		}
	}
}

type sessionStep struct{ command, output string }

// restSession reads the "$ " commands of a Markdown file's ```console
// blocks and the lines each is followed by.
func restSession(t *testing.T, path string) []sessionStep {
	t.Helper()
	var steps []sessionStep
	for _, block := range readFenced(t, path, "console") {
		for _, line := range strings.SplitAfter(block, "\n") {
			if command, ok := strings.CutPrefix(line, "$ "); ok {
				steps = append(steps, sessionStep{command: strings.TrimSuffix(command, "\n")})
			} else if len(steps) > 0 {
				steps[len(steps)-1].output += line
			}
		}
	}
	return steps
}

var (
	timestamps = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	requestIDs = regexp.MustCompile(`"request_id":"[0-9a-f]{32}"`)
)

// comparable is s without what changes from run to run: times, request
// ids, and whitespace outside JSON strings.
func comparable(s string) string {
	var b strings.Builder
	inString, escaped := false, false
	for _, c := range s {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\n' || c == '\t'):
			continue
		}
		b.WriteRune(c)
	}
	out := timestamps.ReplaceAllString(b.String(), "TIME")
	return requestIDs.ReplaceAllString(out, `"request_id":"ID"`)
}
