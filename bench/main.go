// Command bench is the throughput harness: it compares servers built from
// the same proto and the same handler (bench/echoserver: bare connect-go,
// the kit in any configuration, gRPC-Go for reference) under h2load, the
// one load tool on this class of machine that is not client-bound.
//
//	go run ./bench                         # 5 reps × 10 s, every preset
//	go run ./bench -reps 1 -duration 2s    # a quick look (what CI runs)
//	go run ./bench -servers bare,kit -config 'kit-gogc400=-server kit GOGC=400'
//
// Discipline, because on two cores the load tool and the server share the
// machine: one server at a time, a fresh process for every run, the box
// idle before each run (it waits), configurations interleaved within each
// rep so drift hits them alike, and results read as ratios to bare
// connect-go from the same session. Each run is checked: one real call per
// protocol through a Go client is verified before the load, h2load must
// report no failed request, and for the kit every call must have its
// request-log row (rows stored == calls logged, 0 dropped).
//
// Per call it reports the server's CPU time, allocations and read/write
// system calls (from the server's own rusage, runtime and /proc/self/io,
// counted between a mark after the warm-up and the stop), and prints
// medians with their range. It asserts no threshold: it measures.
//
// What it must not do: run anything but loopback, or leave a server behind
// (each is stopped by its PID, also when the driver fails).
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
)

// presets are the configurations compared by default: name=echoserver
// arguments, where NAME=value words are environment variables.
var presets = []string{
	"bare=-server bare",
	"kit=-server kit",
	"kit-nolog=-server kit -log-skip-procedures *",
	"grpcgo=-server grpcgo",
}

// protocols are the two loads: gRPC over h2c with 4 connections × 16
// streams, and Connect JSON over HTTP/1.1 with 64 connections.
var protocols = map[string][]string{
	"grpc": {"-c", "4", "-m", "16", "-H", "content-type: application/grpc", "-H", "te: trailers"},
	"json": {"--h1", "-c", "64", "-H", "content-type: application/json"},
	// The same call on its REST route (POST /v1/echo, the request as the
	// body): the kit only, through its REST layer and the transcoder.
	"rest": {"--h1", "-c", "64", "-H", "content-type: application/json"},
}

const procedure = "/switchboardtest.v1.EchoService/Echo"

// paths are where each load sends its calls.
var paths = map[string]string{"grpc": procedure, "json": procedure, "rest": "/v1/echo"}

type config struct {
	name string
	args []string
	env  []string
}

// server is the echoserver -server mode the configuration runs.
func (c config) server() string {
	if i := slices.Index(c.args, "-server"); i >= 0 && i+1 < len(c.args) {
		return c.args[i+1]
	}
	return "bare"
}

// result is one run: a configuration under one protocol, as it is written
// to -out (one JSON object per line).
type result struct {
	Config   string  `json:"config"`
	Protocol string  `json:"protocol"`
	Rep      int     `json:"rep"`
	ReqPerS  float64 `json:"req_per_s"`
	Done     int64   `json:"done"` // requests h2load saw succeed
	Spent    spent   `json:"server"`
	Busy     float64 `json:"busy_before"` // CPU busy fraction when it started
	// Violation says what a run broke that must hold (a request-log row for
	// every call); the harness goes on and fails at the end.
	Violation string `json:"violation,omitempty"`
}

// spent is what echoserver prints at exit.
type spent struct {
	CPUNanos   int64 `json:"cpu_ns"`
	Mallocs    int64 `json:"mallocs"`
	GCs        int64 `json:"gcs"`
	Reads      int64 `json:"reads"`
	Writes     int64 `json:"writes"`
	Calls      int64 `json:"calls"`
	CallsTotal int64 `json:"calls_total"`
	Logged     int64 `json:"logged"`
	Rows       int64 `json:"rows"`
	Dropped    int64 `json:"dropped"`
	Failed     int64 `json:"failed"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	reps := flag.Int("reps", 5, "repetitions of every configuration")
	duration := flag.Duration("duration", 10*time.Second, "measured load per run")
	warmup := flag.Int("warmup", 2000, "calls before the measurement starts")
	servers := flag.String("servers", "bare,kit,kit-nolog,grpcgo", "configurations to run, by name")
	protos := flag.String("protocols", "grpc,json", "loads to run: grpc, json, rest (the kit's REST route; kit servers only)")
	out := flag.String("out", "", "also write every run as a JSON line to this file")
	profiles := flag.String("cpuprofile", "", "write each run's server CPU profile (measured window) into this directory")
	var extra []string
	flag.Func("config", "add a configuration: 'name=echoserver args [ENV=value…]' (repeatable)", func(s string) error {
		extra = append(extra, s)
		return nil
	})
	flag.Parse()
	if _, err := exec.LookPath("h2load"); err != nil {
		return errors.New("h2load not found: install nghttp2-client")
	}
	configs, err := selectConfigs(strings.Split(*servers, ","), extra)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "echoserver")
	build := exec.Command("go", "build", "-o", bin, "./bench/echoserver")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build echoserver (run from the repository root): %w", err)
	}
	if err := writeBodies(dir); err != nil {
		return err
	}
	var sink io.Writer = io.Discard
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		sink = f
	}
	var results []result
	for rep := 1; rep <= *reps; rep++ {
		for _, proto := range strings.Split(*protos, ",") {
			if protocols[proto] == nil {
				return fmt.Errorf("-protocols: unknown %q", proto)
			}
			for _, c := range configs {
				if proto == "json" && c.server() == "grpcgo" || proto == "rest" && c.server() != "kit" {
					continue // gRPC-Go speaks gRPC only
				}
				if *profiles != "" {
					c.args = append(slices.Clone(c.args), "-cpuprofile", filepath.Join(*profiles, fmt.Sprintf("%s-%s-%d.pprof", c.name, proto, rep)))
				}
				r, err := runOne(bin, dir, c, proto, rep, *duration, *warmup)
				if err != nil {
					return fmt.Errorf("%s over %s, rep %d: %w", c.name, proto, rep, err)
				}
				fmt.Fprintf(os.Stderr, "rep %d %-5s %-12s %9.0f req/s  %6.1f µs CPU/call\n",
					rep, proto, c.name, r.ReqPerS, perCall(r.Spent.CPUNanos, r)/1000)
				results = append(results, r)
				line, _ := json.Marshal(r)
				fmt.Fprintln(sink, string(line))
			}
		}
	}
	summarize(os.Stdout, results, configs)
	var broken []string
	for _, r := range results {
		if r.Violation != "" {
			broken = append(broken, fmt.Sprintf("%s over %s, rep %d: %s", r.Config, r.Protocol, r.Rep, r.Violation))
		}
	}
	if len(broken) > 0 {
		return fmt.Errorf("%d runs broke what must hold:\n  %s", len(broken), strings.Join(broken, "\n  "))
	}
	return nil
}

// selectConfigs returns the configurations named, presets or added with
// -config (an added one is always run).
func selectConfigs(names, extra []string) ([]config, error) {
	byName := map[string]config{}
	for _, spec := range slices.Concat(presets, extra) {
		name, rest, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("config %q: want name=args", spec)
		}
		c := config{name: name}
		for _, w := range strings.Fields(rest) {
			if k, _, ok := strings.Cut(w, "="); ok && k == strings.ToUpper(k) && !strings.HasPrefix(k, "-") {
				c.env = append(c.env, w)
			} else {
				c.args = append(c.args, w)
			}
		}
		byName[name] = c
	}
	for _, spec := range extra {
		name, _, _ := strings.Cut(spec, "=")
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	var configs []config
	for _, n := range names {
		c, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("-servers: no configuration %q", n)
		}
		configs = append(configs, c)
	}
	return configs, nil
}

// writeBodies writes the request both loads send: {"text":"hello"} as a
// gRPC frame and as JSON.
func writeBodies(dir string) error {
	msg, err := proto.Marshal(&switchboardtestv1.EchoRequest{Text: "hello"})
	if err != nil {
		return err
	}
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	if err := os.WriteFile(filepath.Join(dir, "grpc.body"), append(frame, msg...), 0o600); err != nil {
		return err
	}
	for _, name := range []string{"json.body", "rest.body"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"text":"hello"}`), 0o600); err != nil {
			return err
		}
	}
	return nil
}
