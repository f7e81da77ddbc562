// Command server is the server under test for the official Connect
// conformance runner: it reads a ServerCompatRequest on stdin, starts the
// ConformanceService on kit.New with the kit's default pipeline and the
// runner's protocol, TLS and limit settings, answers with a
// ServerCompatResponse on stdout, and serves until it is signalled.
//
//	go tool -modfile=tools/go.mod connectconformance --mode server \
//	  --conf internal/conformance/config.yaml -- ./conformance-server
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"google.golang.org/protobuf/proto"

	conformancev1 "github.com/switchboardkit/switchboard/gen/connectrpc/conformance/v1"
	"github.com/switchboardkit/switchboard/gen/connectrpc/conformance/v1/conformancev1connect"
	"github.com/switchboardkit/switchboard/internal/conformance"
	"github.com/switchboardkit/switchboard/kit"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance server:", err)
		os.Exit(1)
	}
}

func run() error {
	var req conformancev1.ServerCompatRequest
	if err := readDelimited(os.Stdin, &req); err != nil {
		return fmt.Errorf("read the request: %w", err)
	}
	dir, err := os.MkdirTemp("", "switchboard-conformance-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	cfg := kit.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DSN = "sqlite:" + filepath.Join(dir, "conformance.db")
	cfg.Auth.Public = []string{conformancev1connect.ConformanceServiceName + "/*"}
	// The suite checks that a server sends exactly the errors the handler
	// and the transport author; the kit's own errors keep their ErrorInfo.
	cfg.Errors.AuthoredAsIs = true
	cfg.FirstAdminKey = false
	if n := req.GetMessageReceiveLimit(); n > 0 {
		cfg.MaxReceiveBytes = int(n)
	}
	if req.GetUseTls() {
		cfg.TLSCertFile = filepath.Join(dir, "server.pem")
		cfg.TLSKeyFile = filepath.Join(dir, "server.key")
		if err := writeFiles(map[string][]byte{
			cfg.TLSCertFile: req.GetServerCreds().GetCert(), cfg.TLSKeyFile: req.GetServerCreds().GetKey(),
		}); err != nil {
			return err
		}
		if len(req.GetClientTlsCert()) > 0 {
			cfg.TLSClientAuth, cfg.TLSClientCAFile = "require", filepath.Join(dir, "client-ca.pem")
			if err := writeFiles(map[string][]byte{cfg.TLSClientCAFile: req.GetClientTlsCert()}); err != nil {
				return err
			}
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := kit.New(cfg)
	if err != nil {
		return err
	}
	conformancev1connect.RegisterConformanceServiceHandler(srv.RPC(), conformance.Service{})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		return err
	}
	port, err := strconv.Atoi(portOf(srv.Addr().String()))
	if err != nil {
		return err
	}
	res := &conformancev1.ServerCompatResponse{Host: "127.0.0.1", Port: uint32(port)}
	if req.GetUseTls() {
		res.PemCert = req.GetServerCreds().GetCert()
	}
	if err := writeDelimited(os.Stdout, res); err != nil {
		return fmt.Errorf("write the response: %w", err)
	}
	return <-done
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return addr
}

func writeFiles(files map[string][]byte) error {
	for path, data := range files {
		if len(data) == 0 {
			return fmt.Errorf("the runner sent no data for %s", filepath.Base(path))
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// readDelimited reads a 4-byte big-endian length, then that many bytes of
// message.
func readDelimited(r io.Reader, msg proto.Message) error {
	var size uint32
	if err := binary.Read(r, binary.BigEndian, &size); err != nil {
		return err
	}
	if size > 16<<20 {
		return errors.New("request too large")
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return err
	}
	return proto.Unmarshal(data, msg)
}

func writeDelimited(w io.Writer, msg proto.Message) error {
	data, err := proto.Marshal(msg)
	if err != nil {
		return err
	}
	if err := binary.Write(w, binary.BigEndian, uint32(len(data))); err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}
