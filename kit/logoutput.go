package kit

// The server's log output is buffered: with a line per call (the request
// log's), one write(2) per line was a measurable share of a call's cost
// (docs/benchmarks.md). Lines are gathered and written at least every
// logFlushEvery, at once when a warning or an error is logged or the
// buffer fills, and when the server stops — the way nginx (access_log
// buffer= flush=) and Envoy (a 1 s flush interval) write access logs. A
// process that crashes loses at most the last logFlushEvery of info lines.

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

const (
	logFlushEvery  = 100 * time.Millisecond
	logBufferBytes = 32 << 10
)

// lineBuffer is an io.Writer that gathers writes for out.
type lineBuffer struct {
	mu    sync.Mutex
	out   io.Writer
	buf   []byte
	timer *time.Timer // armed while buf holds something
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > logBufferBytes {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > logBufferBytes {
			return b.out.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	if b.timer == nil {
		b.timer = time.AfterFunc(logFlushEvery, func() { _ = b.Flush() })
	}
	return len(p), nil
}

// Flush writes what is gathered.
func (b *lineBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *lineBuffer) flushLocked() error {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.out.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// bufferedHandler is a handler writing to a lineBuffer: it flushes after
// every warning and error.
type bufferedHandler struct {
	slog.Handler
	out *lineBuffer
}

func (h bufferedHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.out.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h bufferedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return bufferedHandler{h.Handler.WithAttrs(attrs), h.out}
}

func (h bufferedHandler) WithGroup(name string) slog.Handler {
	return bufferedHandler{h.Handler.WithGroup(name), h.out}
}

// flushLog writes what the buffer of the config's NewLogger holds, even
// when another handler wraps its handler.
func flushLog(cfg *Config) {
	if cfg.logOutput != nil {
		_ = cfg.logOutput.Flush()
	}
}
