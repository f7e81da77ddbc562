package main

// One run: start a fresh echoserver, check a real call, warm up, mark,
// load, stop, and check the request log.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
)

// server is one running echoserver.
type server struct {
	cmd   *exec.Cmd
	lines *bufio.Scanner
	addr  string
	key   string
}

func start(bin, dir string, c config) (*server, error) {
	cmd := exec.Command(bin, c.args...)
	cmd.Env = append(os.Environ(), c.env...)
	logf, err := os.Create(filepath.Join(dir, "server.log")) // its log lines are real writes, as in production
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, lines: bufio.NewScanner(stdout)}
	var ready struct{ Addr, Key string }
	if err := s.next(&ready); err != nil {
		s.kill()
		return nil, fmt.Errorf("server did not start (see its log): %w", err)
	}
	s.addr, s.key = ready.Addr, ready.Key
	return s, nil
}

// next reads the server's next JSON line into v.
func (s *server) next(v any) error {
	if !s.lines.Scan() {
		if err := s.lines.Err(); err != nil {
			return err
		}
		return io.ErrUnexpectedEOF
	}
	return json.Unmarshal(s.lines.Bytes(), v)
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// stop ends the server with SIGTERM and returns what it spent.
func (s *server) stop() (spent, error) {
	var sp spent
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return sp, err
	}
	err := s.next(&sp)
	if werr := s.cmd.Wait(); err == nil && werr != nil {
		err = werr
	}
	return sp, err
}

func runOne(bin, dir string, c config, proto string, rep int, duration time.Duration, warmup int) (result, error) {
	r := result{Config: c.name, Protocol: proto, Rep: rep}
	r.Busy = waitIdle(30 * time.Second)
	s, err := start(bin, dir, c)
	if err != nil {
		return r, err
	}
	defer s.kill() // a no-op after stop
	if err := verify(s, proto); err != nil {
		return r, fmt.Errorf("a real call failed: %w", err)
	}
	if _, err := h2load(s, dir, proto, "-n", strconv.Itoa(warmup)); err != nil {
		return r, fmt.Errorf("warm-up: %w", err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return r, err
	}
	var marked struct{ Marked bool }
	if err := s.next(&marked); err != nil || !marked.Marked {
		return r, fmt.Errorf("server did not mark: %v", err)
	}
	secs := strconv.FormatFloat(duration.Seconds(), 'f', -1, 64)
	done, err := h2load(s, dir, proto, "-D", secs)
	if err != nil {
		return r, err
	}
	r.Done = done
	r.ReqPerS = float64(done) / duration.Seconds()
	if r.Spent, err = s.stop(); err != nil {
		return r, fmt.Errorf("stop: %w", err)
	}
	if sp := r.Spent; c.server() == "kit" {
		if sp.Dropped > 0 || sp.Failed > 0 || sp.Rows != sp.Logged {
			r.Violation = fmt.Sprintf("request log: %d rows stored for %d calls logged, %d dropped, %d failed", sp.Rows, sp.Logged, sp.Dropped, sp.Failed)
		}
	}
	return r, nil
}

var (
	h2Requests = regexp.MustCompile(`requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2Status   = regexp.MustCompile(`status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
)

// h2load runs one load against s and returns the requests that succeeded;
// any failed, errored or non-2xx request is an error.
func h2load(s *server, dir, proto string, args ...string) (int64, error) {
	argv := slices.Concat(protocols[proto], args, []string{"-d", filepath.Join(dir, proto+".body")})
	if s.key != "" {
		argv = append(argv, "-H", "authorization: Bearer "+s.key)
	}
	argv = append(argv, "http://"+s.addr+paths[proto])
	out, err := exec.Command("h2load", argv...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("h2load: %w\n%s", err, out)
	}
	m := h2Requests.FindSubmatch(out)
	st := h2Status.FindSubmatch(out)
	if m == nil || st == nil {
		return 0, fmt.Errorf("h2load printed no request counts:\n%s", out)
	}
	for i, what := range []string{"failed", "errored", "timeout"} {
		if string(m[i+2]) != "0" {
			return 0, fmt.Errorf("h2load: %s %s requests:\n%s", m[i+2], what, out)
		}
	}
	if string(st[2]) != "0" || string(st[3]) != "0" || string(st[4]) != "0" {
		return 0, fmt.Errorf("h2load: non-2xx answers:\n%s", out)
	}
	return strconv.ParseInt(string(m[1]), 10, 64)
}

// verify makes one real call over the protocol the load uses and checks
// the answer, so a load of well-formed errors cannot pass as throughput.
func verify(s *server, proto string) error {
	if proto == "rest" {
		return verifyREST(s)
	}
	var rt http.RoundTripper = http.DefaultTransport
	opts := []connecthttp.Option{connecthttp.WithProtoJSON()}
	if proto == "grpc" {
		p := new(http.Protocols)
		p.SetUnencryptedHTTP2(true)
		rt = &http.Transport{Protocols: p}
		opts = []connecthttp.Option{connecthttp.WithGRPC()}
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: bearer{rt, s.key}}
	client := switchboardtestv1connect.NewEchoServiceClient(
		connect.NewClient(connecthttp.NewTransport(hc, "http://"+s.addr, opts...)))
	res, err := client.Echo(context.Background(), &switchboardtestv1.EchoRequest{Text: "hello"})
	if err != nil {
		return err
	}
	if res.GetText() != "hello" {
		return fmt.Errorf("echo answered %q", res.GetText())
	}
	return nil
}

// verifyREST makes one call on the REST route and checks its answer.
func verifyREST(s *server) error {
	req, err := http.NewRequest(http.MethodPost, "http://"+s.addr+paths["rest"], strings.NewReader(`{"text":"hello"}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := &http.Client{Timeout: 10 * time.Second, Transport: bearer{http.DefaultTransport, s.key}}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"hello"`) {
		return fmt.Errorf("REST echo answered HTTP %d %s", res.StatusCode, body)
	}
	return nil
}

// bearer sends the kit's key, when there is one.
type bearer struct {
	next http.RoundTripper
	key  string
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.key != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.key)
	}
	return b.next.RoundTrip(r)
}
