package petstore

// SQLite under faults, injected for real: another process's write lock and a
// full disk (a tiny tmpfs). Reads never queue behind writes; failed writes
// are UNAVAILABLE with a retry hint; health says the database cannot write;
// request-log batches are retried, not dropped.

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// lockWrites takes SQLite's write lock on path from another connection, as
// another process would, until the returned func releases it.
func lockWrites(t *testing.T, path string) func() {
	t.Helper()
	// It waits, like any writer, while the server holds the lock a moment
	// (its heartbeat, a log batch).
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
			_ = conn.Close()
			_ = db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

func healthz(t *testing.T, env *testEnv) (int, string) {
	t.Helper()
	res, err := http.Get(env.run.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(body))
}

func TestFaults_SQLiteReadsNeverQueueBehindAWriteLock(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	env := start(t, dsn, func(c *kit.Config) { c.DB.BusyTimeout = time.Minute })
	api := env.clients(t)["connect-proto-h2"]
	created, err := api.CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: dog("Rex")})
	if err != nil {
		t.Fatal(err)
	}
	release := lockWrites(t, strings.TrimPrefix(dsn, "sqlite:"))

	// More writes than the write pool has connections: all of them wait.
	const writers = 8
	writes := make(chan error, writers)
	for range writers {
		go func() {
			_, err := api.CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: dog("Waits")})
			writes <- err
		}()
	}
	// Reads — through every client, auth's key lookups included — finish
	// while every write is still blocked behind the lock.
	for name, c := range env.clients(t) {
		for range 5 {
			if _, err := c.GetPet(t.Context(), &petstorev1.GetPetRequest{Id: created.GetPet().GetId()}); err != nil {
				t.Fatalf("%s GetPet under a write lock: %v", name, err)
			}
			if _, err := c.ListPets(t.Context(), &petstorev1.ListPetsRequest{}); err != nil {
				t.Fatalf("%s ListPets under a write lock: %v", name, err)
			}
		}
	}
	select {
	case err := <-writes:
		t.Fatalf("a write finished while another connection held the write lock: %v", err)
	default:
	}
	release()
	for range writers {
		if err := kittest.Receive(t, writes, "a write to finish"); err != nil {
			t.Errorf("write after the lock was released: %v", err)
		}
	}
}

func TestFaults_SQLiteWriteLockIsUnavailableAndHealthSaysSo(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	env := start(t, dsn, func(c *kit.Config) { c.DB.BusyTimeout = 200 * time.Millisecond })
	api := env.clients(t)["connect-proto-h2"]
	release := lockWrites(t, strings.TrimPrefix(dsn, "sqlite:"))
	for name, c := range map[string]unaryAPI{"connect": api, "rest": env.clients(t)["rest-json-http1"]} {
		_, err := c.CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: dog("Rex")})
		if code, reason, retry := statusOf(err); code != connect.CodeUnavailable || reason != "DATABASE_UNAVAILABLE" || !retry {
			t.Errorf("%s write under a lock: %v %q retry=%v, want unavailable DATABASE_UNAVAILABLE with RetryInfo", name, code, reason, retry)
		}
	}
	kittest.WaitFor(t, "health to say the database cannot write", func() bool {
		code, body := healthz(t, env)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "cannot write")
	})
	release()
	kittest.WaitFor(t, "health to recover", func() bool { code, _ := healthz(t, env); return code == http.StatusOK })
	if _, err := api.CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: dog("Rex")}); err != nil {
		t.Errorf("write after the lock: %v", err)
	}
	kittest.WaitFor(t, "every call's row, the lock's included", func() bool {
		st := env.srv.LogStats()
		return st.Written == 3 && st.Dropped == 0 && st.Failed == 0 && st.Queued == 0
	})
}

// statusOf reads a failed call's code, ErrorInfo reason and whether it
// carries a RetryInfo, from a Connect or a REST client.
func statusOf(err error) (connect.Code, string, bool) {
	var details []proto.Message
	var cerr *connect.Error
	var rerr *restError
	switch {
	case errors.As(err, &rerr):
		details = rerr.details
	case errors.As(err, &cerr):
		for _, d := range cerr.Details() {
			msg, _ := connectproto.UnmarshalErrorDetail(d)
			details = append(details, msg)
		}
	default:
		return connect.CodeOf(err), "", false
	}
	reason, _, _, retry := summarize(details)
	if rerr != nil {
		return connect.Code(rerr.status.GetCode()), reason, retry
	}
	return cerr.Code(), reason, retry
}

// smallFS mounts a tmpfs of size bytes for the test (root only).
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a tmpfs (CI runs as root): %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here (%v); CI runs this as root", err)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

func TestFaults_SQLiteFullDiskIsUnavailableReadsGoOnAndLogsAreRetried(t *testing.T) {
	dir := smallFS(t, "4m")
	env := start(t, "sqlite:"+filepath.Join(dir, "pets.db"), nil)
	api := env.clients(t)["connect-proto-h2"]
	created, err := api.CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: dog("Rex")})
	if err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(f, io.LimitReader(zeros{}, 8<<20)) // until the disk is full
	_ = f.Close()

	var failed int
	for range 5 {
		_, err := api.CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: dog("Big " + strings.Repeat("x", 50))})
		if code, reason, retry := statusOf(err); code != connect.CodeUnavailable || reason != "DATABASE_UNAVAILABLE" || !retry {
			t.Errorf("write on a full disk: %v %q retry=%v (%v), want unavailable with RetryInfo", code, reason, retry, err)
		}
		failed++
		if _, err := api.GetPet(t.Context(), &petstorev1.GetPetRequest{Id: created.GetPet().GetId()}); err != nil {
			t.Errorf("read on a full disk: %v", err)
		}
	}
	kittest.WaitFor(t, "health to say the database cannot write", func() bool {
		code, body := healthz(t, env)
		return code == http.StatusServiceUnavailable && strings.Contains(body, "cannot write")
	})
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	kittest.WaitFor(t, "health to recover", func() bool { code, _ := healthz(t, env); return code == http.StatusOK })
	calls := int64(1 + 2*failed)
	kittest.WaitFor(t, "every call's row, the full disk's included", func() bool {
		st := env.srv.LogStats()
		return st.Written == calls && st.Dropped == 0 && st.Failed == 0
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
