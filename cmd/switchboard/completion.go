package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// completionFlags lists each command's flags for shell completion; a test
// keeps it in step with the flags the commands define.
var completionFlags = map[string][]string{
	"list":        targetFlagNames,
	"describe":    targetFlagNames,
	"template":    append([]string{"--types", "--proto-names"}, targetFlagNames...),
	"call":        append([]string{"-d", "--timeout", "--emit-defaults", "--proto-names", "--allow-unknown", "-v"}, targetFlagNames...),
	"new":         {"--module", "--replace", "--no-generate"},
	"keys create": {"--name", "--scope", "--expires", "--dsn"},
	"keys list":   {"--dsn"},
	"keys revoke": {"--dsn"},
	"completion":  nil,
}

var targetFlagNames = []string{"-H", "--api-key", "--protocol", "--plaintext", "--http1", "--cacert", "--protoset", "--proto", "-I"}

const completionUsage = `Usage: switchboard completion bash|zsh

Prints a completion script for commands, subcommands and flags:
  source <(switchboard completion bash)        # bash, e.g. in ~/.bashrc
  source <(switchboard completion zsh)         # zsh, e.g. in ~/.zshrc
`

func runCompletion(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || (args[0] != "bash" && args[0] != "zsh") {
		fmt.Fprint(stderr, completionUsage)
		return errUsage
	}
	var cases strings.Builder
	keys := make([]string, 0, len(completionFlags))
	for k := range completionFlags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&cases, "    %q) flags=%q ;;\n", k, strings.Join(completionFlags[k], " "))
	}
	script := strings.ReplaceAll(bashCompletion, "@CASES@", cases.String())
	if args[0] == "zsh" {
		script = "autoload -U +X bashcompinit && bashcompinit\n" + script
	}
	_, err := io.WriteString(stdout, script)
	return err
}

// bashCompletion completes the command, the keys subcommand, the protocol
// and shell names, and each command's flags; bash and (through
// bashcompinit) zsh run it.
const bashCompletion = `# switchboard completion (bash; zsh through bashcompinit)
_switchboard() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local cmd=${COMP_WORDS[1]} flags=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "list describe template call new keys completion help" -- "$cur")); return
  fi
  if [ "$cmd" = keys ]; then
    if [ "$COMP_CWORD" -eq 2 ]; then
      COMPREPLY=($(compgen -W "create list revoke" -- "$cur")); return
    fi
    cmd="keys ${COMP_WORDS[2]}"
  fi
  case "$prev" in
    --protocol) COMPREPLY=($(compgen -W "grpc connect grpcweb" -- "$cur")); return ;;
    --protoset|--proto|--cacert|-I|--replace) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [ "$cmd" = completion ]; then
    COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return
  fi
  case "$cmd" in
@CASES@  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags --help" -- "$cur"))
  fi
}
complete -F _switchboard switchboard
`
