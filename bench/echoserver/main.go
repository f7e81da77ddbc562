// Command echoserver is the server side of the benchmark harness (see
// package bench): the test echo service (switchboardtest.v1.EchoService)
// served one of three ways, so the three can be compared call for call:
//
//	echoserver -server bare   # connect-go v2 on net/http, h2c, nothing else
//	echoserver -server kit [kit flags…]   # the kit with its default pipeline
//	echoserver -server grpcgo # gRPC-Go, for reference (gRPC only)
//
// It prints one JSON line when it serves ({"addr", "key"}), snapshots its
// counters on SIGUSR1 (and prints {"marked":true}), and on SIGTERM stops
// and prints what it spent since the snapshot: CPU time, allocations,
// read and write system calls, calls handled and, for the kit, rows logged.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"google.golang.org/grpc"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/internal/echo"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/store"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
}

// ready is printed once the server accepts calls.
type ready struct {
	Addr string `json:"addr"`
	Key  string `json:"key,omitempty"` // the kit's API key, for Authorization: Bearer
}

// spent is printed at exit: what the server used between the mark and the
// stop (calls and rows are totals, warm-up included, to be compared with
// each other).
type spent struct {
	CPUNanos   int64 `json:"cpu_ns"`
	Mallocs    int64 `json:"mallocs"`
	GCs        int64 `json:"gcs"`
	Reads      int64 `json:"reads"`  // read-type system calls (/proc/self/io syscr)
	Writes     int64 `json:"writes"` // write-type system calls (syscw)
	Calls      int64 `json:"calls"`  // handler invocations since the mark
	CallsTotal int64 `json:"calls_total"`
	Logged     int64 `json:"logged"` // calls the kit's request log saw, each to keep a row (kit only)
	Rows       int64 `json:"rows"`   // request-log rows stored (kit only)
	Dropped    int64 `json:"dropped"`
	Failed     int64 `json:"failed"`
}

type counters struct {
	cpu, mallocs, gcs, reads, writes, calls int64
}

func snapshot(h *echo.Handler) counters {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	c := counters{
		cpu:     ru.Utime.Nano() + ru.Stime.Nano(),
		mallocs: int64(ms.Mallocs), gcs: int64(ms.NumGC),
		calls: h.Calls.Load(),
	}
	c.reads, c.writes = ioSyscalls()
	return c
}

func run(args []string) error {
	fs := flag.NewFlagSet("echoserver", flag.ContinueOnError)
	mode := fs.String("server", "bare", "bare, kit or grpcgo")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the measured window (mark to stop) here")
	cfg := kit.DefaultConfig()
	cfg.Addr = "127.0.0.1:0" // -addr; every server mode listens there
	cfg.DSN = ""             // set below: a fresh database in a temporary directory
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	h := &echo.Handler{}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var mark counters
	marks := make(chan os.Signal, 1)
	signal.Notify(marks, syscall.SIGUSR1)
	go func() {
		for range marks {
			if *cpuprofile != "" {
				startProfile(*cpuprofile)
			}
			mark = snapshot(h)
			emit(map[string]bool{"marked": true})
		}
	}()

	var out spent
	var err error
	switch *mode {
	case "bare":
		err = serveBare(ctx, cfg.Addr, h)
	case "grpcgo":
		err = serveGRPCGo(ctx, cfg.Addr, h)
	case "kit":
		out, err = serveKit(ctx, cfg.Addr, cfg, h)
	default:
		return fmt.Errorf("-server %q: want bare, kit or grpcgo", *mode)
	}
	if err != nil {
		return err
	}
	signal.Stop(marks)
	end := snapshot(h)
	pprof.StopCPUProfile()
	out.CPUNanos, out.Mallocs, out.GCs = end.cpu-mark.cpu, end.mallocs-mark.mallocs, end.gcs-mark.gcs
	out.Reads, out.Writes = end.reads-mark.reads, end.writes-mark.writes
	out.Calls, out.CallsTotal = end.calls-mark.calls, end.calls
	emit(out)
	return nil
}

func startProfile(path string) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echoserver: cpuprofile:", err)
	}
}

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

// serveBare is connect-go v2 as its README shows it: a mux, h2c through
// the standard library, no interceptors.
func serveBare(ctx context.Context, addr string, h *echo.Handler) error {
	server := connect.NewServer()
	switchboardtestv1connect.RegisterEchoServiceHandler(server, h)
	mux := http.NewServeMux()
	connecthttp.Mount(mux, server)
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, Protocols: protocols}
	emit(ready{Addr: ln.Addr().String()})
	go func() {
		<-ctx.Done()
		_ = hs.Shutdown(context.Background())
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveKit is the kit with its defaults (and whatever kit flags were
// given), on a fresh SQLite database unless -dsn says otherwise.
func serveKit(ctx context.Context, addr string, cfg kit.Config, h *echo.Handler) (spent, error) {
	cfg.Addr = addr
	if cfg.DSN == "" {
		dir, err := os.MkdirTemp("", "switchboard-bench-")
		if err != nil {
			return spent{}, err
		}
		defer os.RemoveAll(dir)
		cfg.DSN = dir + "/bench.db"
	}
	cfg.Logger = cfg.NewLogger(os.Stderr) // the driver sends it to a file: one real write per line
	var logged counter
	if cfg.LogStore == "rows" { // else no row is expected
		cfg.CallSinks = append(cfg.CallSinks, &logged)
	}
	srv, err := kit.New(cfg)
	if err != nil {
		return spent{}, err
	}
	switchboardtestv1connect.RegisterEchoServiceHandler(srv.RPC(), h)
	key, _, err := srv.APIKeys().Create(ctx, "bench", []string{"*"}, 0)
	if err != nil {
		return spent{}, err
	}
	go func() {
		select {
		case <-srv.Ready():
			emit(ready{Addr: srv.Addr().String(), Key: key})
		case <-ctx.Done():
		}
	}()
	if err := srv.Run(ctx); err != nil {
		return spent{}, err
	}
	st := srv.LogStats()
	return spent{Logged: logged.n.Load(), Rows: st.Written, Dropped: st.Dropped, Failed: st.Failed}, nil
}

// counter counts the calls the request log records with a row of their
// own: every one must end up stored.
type counter struct{ n atomic.Int64 }

func (c *counter) Record(_ *store.RequestLog, row bool) {
	if row {
		c.n.Add(1)
	}
}

// serveGRPCGo is gRPC-Go with the same handler, for reference: the service
// is described by hand because gRPC-Go's generator is not part of the build.
func serveGRPCGo(ctx context.Context, addr string, h *echo.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	gs := grpc.NewServer()
	gs.RegisterService(&grpc.ServiceDesc{
		ServiceName: "switchboardtest.v1.EchoService",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Echo",
			Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				req := new(switchboardtestv1.EchoRequest)
				if err := dec(req); err != nil {
					return nil, err
				}
				return h.Echo(ctx, req)
			},
		}},
	}, h)
	emit(ready{Addr: ln.Addr().String()})
	go func() {
		<-ctx.Done()
		gs.GracefulStop()
	}()
	return gs.Serve(ln)
}

// ioSyscalls reads this process's read and write system call counts.
func ioSyscalls() (reads, writes int64) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, value, _ := strings.Cut(line, ": ")
		v, _ := strconv.ParseInt(value, 10, 64)
		switch name {
		case "syscr":
			reads = v
		case "syscw":
			writes = v
		}
	}
	return reads, writes
}
