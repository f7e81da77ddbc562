// Command petstore runs Switchboard's example service on one port for gRPC,
// gRPC-Web and Connect (JSON or binary) clients, backed by embedded SQLite
// (or PostgreSQL with -dsn postgres://…), with its browser page at /.
//
//	go run ./examples/petstore                      # :8080, data/switchboard.db
//	go run ./examples/petstore -addr 127.0.0.1:0    # a free port, logged
//
// Every flag can also be set from the environment: -addr is
// SWITCHBOARD_ADDR, -dsn is SWITCHBOARD_DSN, and so on (see -help).
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

	"github.com/switchboardkit/switchboard/examples/petstore/openapi"
	"github.com/switchboardkit/switchboard/examples/petstore/petstore"
	"github.com/switchboardkit/switchboard/examples/petstore/web"
	"github.com/switchboardkit/switchboard/gen/petstore/v1/petstorev1connect"
	"github.com/switchboardkit/switchboard/kit"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "petstore:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cfg := kit.DefaultConfig() // the kit's DSN: the switchboard CLI's default too
	cfg.Reflection = true
	if err := cfg.LoadEnv(os.LookupEnv); err != nil {
		return err
	}
	fs := flag.NewFlagSet("petstore", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // a mistake gets one line, not every flag
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fmt.Fprintln(os.Stderr, "Usage: petstore [flags]   (every flag is also an environment variable: -addr is SWITCHBOARD_ADDR)")
			fs.PrintDefaults()
			return nil
		}
		return fmt.Errorf("%w (run 'petstore -help' for every flag; the listen address is -addr, e.g. -addr :9000)", err)
	}
	cfg.Logger = cfg.NewLogger(os.Stderr)
	cfg.Migrations = append(cfg.Migrations, kit.Migrations{Name: "petstore", Set: petstore.Migrations()})
	cfg.OpenAPI = openapi.YAML // served at /openapi.yaml and /openapi.json, read at /docs/

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv, err := kit.New(cfg)
	if err != nil {
		return err
	}
	petstorev1connect.RegisterPetStoreServiceHandler(srv.RPC(), petstore.New(srv.DB(), srv.ReadDB(), srv.Validator(), srv.Cluster()))
	srv.Handle("/", web.Handler()) // the browser page, same origin as the API
	return srv.Run(ctx)
}
