package main

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestCompletion_ScriptsParseAndNameEveryFlag(t *testing.T) {
	for _, shell := range []string{"bash", "zsh"} {
		out, _, err := cli(t, "completion", shell)
		if err != nil || !strings.Contains(out, "complete -F _switchboard switchboard") {
			t.Fatalf("%s: %v", shell, err)
		}
		if path, lookErr := exec.LookPath(shell); lookErr == nil {
			check := exec.Command(path, "-n")
			check.Stdin = strings.NewReader(out)
			if msg, err := check.CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", shell, err, msg)
			}
		}
	}
	// Every flag a command defines (as its --help lists them) is completed.
	flagLine := regexp.MustCompile(`(?m)^  -(\w[\w-]*)`)
	seen := 0
	for _, args := range [][]string{{"list"}, {"describe"}, {"template"}, {"call"}, {"new"}, {"keys", "create"}, {"keys", "list"}, {"keys", "revoke"}} {
		_, help, _ := cli(t, append(args, "--help")...)
		for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
			name := "--" + m[1]
			if len(m[1]) == 1 {
				name = "-" + m[1]
			}
			seen++
			if !slices.Contains(completionFlags[strings.Join(args, " ")], name) {
				t.Errorf("%s: flag %s is not completed", strings.Join(args, " "), name)
			}
		}
	}
	if seen < 30 {
		t.Errorf("found %d flags in the commands' help: the check reads nothing", seen)
	}
	if _, _, err := cli(t, "completion", "fish"); err == nil {
		t.Error("an unknown shell was accepted")
	}
}
