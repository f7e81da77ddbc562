package storetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// Server is a PostgreSQL server of the test's own, for fault tests that
// stop and start it — never the shared server other tests use.
type Server struct {
	// DSN connects to its "postgres" database.
	DSN  string
	bin  string
	data string
	port int
	t    testing.TB
}

// StartServer initdb's and starts a throwaway PostgreSQL on 127.0.0.1 and a
// free port (as the postgres user when run as root), stopped when the test
// ends. Without PostgreSQL binaries it skips locally and fails with CI=true.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("no PostgreSQL binaries under /usr/lib/postgresql: CI installs them (.ci/postgres.sh)")
		}
		t.Skip("no PostgreSQL binaries; skipping a test that stops and starts its own server")
	}
	sort.Strings(bins)
	s := &Server{bin: filepath.Dir(bins[len(bins)-1]), t: t}
	dir, err := os.MkdirTemp("", "switchboard-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o777)
	s.data = filepath.Join(dir, "data")
	t.Cleanup(func() {
		_ = s.pgctl("stop", "-m", "immediate")
		_ = os.RemoveAll(dir)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	if out, err := s.command("initdb", "-D", s.data, "-U", "postgres", "-A", "trust").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.Start()
	s.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
	return s
}

// Start starts the server (again) and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	// Durable settings (unlike the shared test server's): a fault test that
	// stops the server "immediately" must not lose commits it was told of.
	opts := "-c listen_addresses=127.0.0.1 -p " + strconv.Itoa(s.port) + " -k " + filepath.Dir(s.data)
	if err := s.pgctl("start", "-w", "-t", "60", "-l", filepath.Join(filepath.Dir(s.data), "log"), "-o", opts); err != nil {
		s.t.Fatalf("start PostgreSQL: %v", err)
	}
}

// Stop stops it at once, dropping every connection, as a crash or a
// failover would.
func (s *Server) Stop() {
	s.t.Helper()
	if err := s.pgctl("stop", "-m", "immediate", "-w"); err != nil {
		s.t.Fatalf("stop PostgreSQL: %v", err)
	}
}

func (s *Server) pgctl(args ...string) error {
	out, err := s.command("pg_ctl", append([]string{"-D", s.data}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// command runs a PostgreSQL binary, as the postgres user when we are root
// (initdb and postgres refuse to run as root).
func (s *Server) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}
