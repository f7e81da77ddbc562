package kit

import (
	"net/http"
	"sync"
	"time"
)

// handlerTracker counts HTTP handlers running, so shutdown can wait for
// them. http.Server.Shutdown returns once connections are idle or closed —
// not when handlers return: a handler whose client went away (its
// connection closed) still runs, and its request-log record is made only
// when it returns. Closing the log writer before then would lose it.
type handlerTracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to zero; replaced when it rises
}

func newHandlerTracker() *handlerTracker {
	t := &handlerTracker{idle: make(chan struct{})}
	close(t.idle)
	return t
}

// wrap counts h's calls.
func (t *handlerTracker) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.mu.Lock()
		if t.n == 0 {
			t.idle = make(chan struct{})
		}
		t.n++
		t.mu.Unlock()
		defer func() {
			t.mu.Lock()
			if t.n--; t.n == 0 {
				close(t.idle)
			}
			t.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

// wait returns true once no handler runs, false if d passed first (d <= 0:
// whether none runs now).
func (t *handlerTracker) wait(d time.Duration) bool {
	t.mu.Lock()
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
		return true
	default:
	}
	if d <= 0 {
		return false
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-idle:
		return true
	case <-timer.C:
		return false
	}
}

// running reports how many handlers run now.
func (t *handlerTracker) running() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}
