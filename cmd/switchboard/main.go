// Command switchboard is the kit's command line: call any gRPC, gRPC-Web or
// Connect service without its proto files, and manage API keys in the
// database a Switchboard server uses.
//
//	switchboard list --plaintext localhost:8080
//	switchboard describe --plaintext localhost:8080 petstore.v1.Pet
//	switchboard template --plaintext localhost:8080 petstore.v1.CreatePetRequest
//	switchboard call --plaintext -d '{"id":1}' localhost:8080 petstore.v1.PetStoreService/GetPet
//	switchboard keys create --name ci --scope 'petstore.v1.PetStoreService/*'
//
// Key commands take --dsn, or SWITCHBOARD_DSN from the environment: the same
// DSN the server uses.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `switchboard — the Switchboard command line

Usage:
  switchboard list     [flags] TARGET [SERVICE]      services, or one service's methods
  switchboard describe [flags] TARGET SYMBOL         a service, method, message or enum as proto
  switchboard template [flags] TARGET MESSAGE        a JSON request to fill in
  switchboard call     [flags] TARGET SERVICE/METHOD call it; JSON in (-d, @file, stdin), JSON out
  switchboard new      DIR --module MODULE          scaffold a service on the kit
  switchboard keys create --name NAME --scope SCOPE [--scope SCOPE…] [--expires 720h]
  switchboard keys list
  switchboard keys revoke KEY_ID
  switchboard completion bash|zsh                    shell completion

TARGET is host:port (TLS; --plaintext for h2c) or a URL. Schemas come from the
server's gRPC reflection, or from --protoset / --proto files.
Exit status: 0 on success, 2 for a usage error, 64+code when the RPC failed
(its status is printed as JSON on stderr), 1 otherwise.
Key commands use --dsn or SWITCHBOARD_DSN (default sqlite:data/switchboard.db).
Run 'switchboard COMMAND --help' for a command's flags and an example.
`

// errUsage marks a mistake in the command line (exit status 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	var rpcErr rpcExit
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case errors.As(err, &rpcErr):
		os.Exit(64 + int(rpcErr.code))
	default:
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	switch args[0] {
	case "keys":
		return runKeys(ctx, args[1:], stdout, stderr)
	case "new":
		return runNew(ctx, args[1:], stdout, stderr)
	case "completion":
		return runCompletion(args[1:], stdout, stderr)
	case "list":
		return runList(ctx, args[1:], stdout, stderr)
	case "describe":
		return runDescribe(ctx, args[1:], stdout, stderr)
	case "template":
		return runTemplate(ctx, args[1:], stdout, stderr)
	case "call":
		return runCall(ctx, args[1:], stdin, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}

// parse parses flags that may come before, between or after positional
// arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
