package kittest

import (
	"bytes"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer that goroutines may write to while a test
// reads it: a server's log, a process's stderr.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// Process is a server program started by StartProcess.
type Process struct {
	// Addr is the address it logged; Stderr all it wrote, still filling.
	Addr   string
	Stderr *SyncBuffer

	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

// StartProcess starts a server program (the example, a scaffolded service)
// with its stderr collected and waits until it logs the address it bound
// ("msg=listening addr=…", as kit.Server.Run does). A process still running
// when the test ends is killed.
func StartProcess(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Stderr: new(SyncBuffer), cmd: cmd, exited: make(chan struct{})}
	cmd.Stderr = p.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})
	WaitFor(t, "the process to log its address", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it listened:\n%s", cmd.Path, p.Stderr)
		default:
		}
		if m := listening.FindStringSubmatch(p.Stderr.String()); m != nil {
			p.Addr = m[1]
		}
		return p.Addr != ""
	})
	return p
}

// Stop sends SIGTERM and waits (30 s at most, then kills) for the process
// to exit; it returns how it exited (nil for status 0).
func (p *Process) Stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	return p.err
}

// Kill ends the process at once with SIGKILL — no shutdown, no flush — as
// a crash or an OOM kill would, and waits for it to be gone.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}
