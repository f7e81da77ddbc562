package main

// The fleet test: three pet store replicas on one PostgreSQL behind
// HAProxy (Debian's package) on loopback, behaving as one service.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"github.com/uptrace/bun"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/gen/petstore/v1/petstorev1connect"
	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
	"github.com/switchboardkit/switchboard/gen/switchboard/admin/v1/adminv1connect"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// haproxyConfig fronts the replicas: one clear-text port for HTTP/1.1 and
// h2c (HAProxy tells them apart by the HTTP/2 preface), h2c to the
// replicas, health checks on /healthz every 200 ms so a draining replica
// (503 for its -shutdown-delay) leaves the pool before it stops, and
// X-Forwarded-For for the replicas, which trust the proxy's address only.
const haproxyConfig = `global
    log stdout format raw local0 warning
defaults
    mode http
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    option forwardfor
    option redispatch
    retries 2
    retry-on conn-failure empty-response
frontend api
    bind 127.0.0.1:%d
    default_backend replicas
frontend stats
    bind 127.0.0.1:%d
    stats enable
    stats uri /stats
backend replicas
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 200ms fall 1 rise 2 check
%s`

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type fleet struct {
	dsn      string
	replicas []*kittest.Process
	proxy    string // http://127.0.0.1:port
	stats    string // HAProxy's CSV statistics
	key      string
	handle   *bun.DB
	bin      string
}

// startReplica runs one pet store replica of the fleet on addr.
func (f *fleet) startReplica(t *testing.T, addr string) *kittest.Process {
	t.Helper()
	return kittest.StartProcess(t, exec.Command(f.bin, "-addr", addr, "-dsn", f.dsn,
		"-first-admin-key=false", "-trusted-proxies", "127.0.0.1/32", "-shutdown-delay", "1s"))
}

// up reports whether HAProxy has server rN in its pool (its health checks
// passed).
func (f *fleet) up(n int) bool {
	res, err := http.Get(f.stats)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(body), "\n") {
		fields := strings.Split(line, ",")
		if len(fields) > 17 && fields[0] == "replicas" && fields[1] == fmt.Sprintf("r%d", n) {
			return fields[17] == "UP"
		}
	}
	return false
}

func startFleet(t *testing.T, n int) *fleet {
	t.Helper()
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("haproxy is not installed: the fleet test must run in CI (.ci/run installs it)")
		}
		t.Skip("haproxy not installed; skipping the fleet test")
	}
	bin := exampleBinary(t)
	f := &fleet{dsn: storetest.PostgresDSN(t)}
	var servers strings.Builder
	f.bin = bin
	for i := range n {
		p := f.startReplica(t, "127.0.0.1:0")
		f.replicas = append(f.replicas, p)
		fmt.Fprintf(&servers, "    server r%d %s proto h2\n", i, p.Addr)
	}
	port, stats := freePort(t), freePort(t)
	f.stats = fmt.Sprintf("http://127.0.0.1:%d/stats;csv", stats)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(haproxyConfig, port, stats, servers.String())), 0o600); err != nil {
		t.Fatal(err)
	}
	proxy := exec.Command(haproxy, "-f", cfg)
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Process.Kill(); _ = proxy.Wait() })
	f.proxy = fmt.Sprintf("http://127.0.0.1:%d", port)
	f.key = f.newKey(t, "fleet", "*", "admin.read")
	kittest.WaitFor(t, "the proxy to serve", func() bool {
		_, err := f.client().ListPets(t.Context(), &petstorev1.ListPetsRequest{})
		return err == nil
	})
	return f
}

// client calls through the proxy with the fleet's key, over h2c.
func (f *fleet) client(opts ...connecthttp.Option) petstorev1connect.PetStoreServiceClient {
	return petstorev1connect.NewPetStoreServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), f.key), f.proxy, opts...)))
}

// Through the one proxy port: gRPC over h2c, Connect JSON over HTTP/1.1 and
// gRPC-Web over HTTP/1.1, each call landing on whichever replica.
func TestFleet_EveryProtocolThroughTheProxy(t *testing.T) {
	f := startFleet(t, 3)
	for name, client := range map[string]petstorev1connect.PetStoreServiceClient{
		"grpc/h2c":        petstorev1connect.NewPetStoreServiceClient(connect.NewClient(connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), f.key), f.proxy, connecthttp.WithGRPC()))),
		"connect/http1.1": petstorev1connect.NewPetStoreServiceClient(connect.NewClient(connecthttp.NewTransport(kittest.WithBearer(nil, f.key), f.proxy))),
		"grpcweb/http1.1": petstorev1connect.NewPetStoreServiceClient(connect.NewClient(connecthttp.NewTransport(kittest.WithBearer(nil, f.key), f.proxy, connecthttp.WithGRPCWeb()))),
	} {
		for i := range 3 {
			if _, err := client.CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: &petstorev1.Pet{
				Name: fmt.Sprintf("%s-%d", strings.Split(name, "/")[0], i), Species: petstorev1.Species_SPECIES_CAT,
				Status: petstorev1.PetStatus_PET_STATUS_AVAILABLE}}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	list, err := f.client().ListPets(t.Context(), &petstorev1.ListPetsRequest{PageSize: 100})
	if err != nil || len(list.GetPets()) != 9 {
		t.Errorf("ListPets: %d pets (%v), want the 9 made through every protocol", len(list.GetPets()), err)
	}
}

// A rolling restart under load: each replica in turn gets SIGTERM — the
// proxy drains it (health 503 during -shutdown-delay) — and starts again
// on its address, back in the pool before the next goes; no call fails.
func TestFleet_ARollingRestartUnderLoadFailsNoCall(t *testing.T) {
	f := startFleet(t, 3)
	client := f.client()
	var calls, failed atomic.Int64
	stop := make(chan struct{})
	var load sync.WaitGroup
	deadline := time.Now().Add(2 * time.Minute) // a bound, whatever happens
	for range 4 {
		load.Go(func() {
			for time.Now().Before(deadline) {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := client.ListPets(t.Context(), &petstorev1.ListPetsRequest{}); err != nil {
					if failed.Add(1) <= 3 {
						t.Logf("call failed: %v", err)
					}
				}
				calls.Add(1)
			}
		})
	}
	kittest.WaitFor(t, "load", func() bool { return calls.Load() > 200 })
	for i, r := range f.replicas { // each in turn: stopped, started again, back in the pool
		if err := r.Stop(); err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
		f.replicas[i] = f.startReplica(t, r.Addr)
		kittest.WaitFor(t, fmt.Sprintf("replica %d back in the proxy's pool", i), func() bool { return f.up(i) })
		before := calls.Load()
		kittest.WaitFor(t, "load to go on", func() bool { return calls.Load() > before+200 })
	}
	close(stop)
	load.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d calls failed during the rolling restart", failed.Load(), calls.Load())
	}
	t.Logf("%d calls, %d failed", calls.Load(), failed.Load())
}

// direct returns a client of one replica, bypassing the proxy.
func (f *fleet) direct(i int, key string) petstorev1connect.PetStoreServiceClient {
	return petstorev1connect.NewPetStoreServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), key), "http://"+f.replicas[i].Addr)))
}

// What one replica learns, the others know: a watcher on A sees a pet
// created on B; a key revoked through A is refused by B and C within a
// second; the admin overview on C counts the calls of all three.
func TestFleet_ReplicasActAsOne(t *testing.T) {
	f := startFleet(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	watch, err := f.direct(0, f.key).WatchPets(ctx, &petstorev1.WatchPetsRequest{MaxEvents: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	events := make(chan *petstorev1.WatchPetsResponse, 1)
	go func() {
		if ev, err := watch.Receive(); err == nil {
			events <- ev
		}
	}()
	// The watch opens on its first Receive: create on B until A's watcher
	// has the event.
	var seen *petstorev1.WatchPetsResponse
	kittest.WaitFor(t, "A's watcher to see a pet created on B", func() bool {
		if _, err := f.direct(1, f.key).CreatePet(ctx, &petstorev1.CreatePetRequest{Pet: &petstorev1.Pet{
			Name: "Rex", Species: petstorev1.Species_SPECIES_DOG, Status: petstorev1.PetStatus_PET_STATUS_AVAILABLE}}); err != nil {
			t.Fatal(err)
		}
		select {
		case seen = <-events:
			return true
		default:
			return false
		}
	})
	if seen.GetType() != petstorev1.EventType_EVENT_TYPE_CREATED || seen.GetPet().GetName() != "Rex" {
		t.Errorf("A's watcher got %v", seen)
	}

	// A key used on B and C (cached there), revoked through A.
	doomed := f.newKey(t, "doomed", "*")
	for i := 1; i <= 2; i++ {
		if _, err := f.direct(i, doomed).ListPets(ctx, &petstorev1.ListPetsRequest{}); err != nil {
			t.Fatalf("the key on replica %d before the revocation: %v", i, err)
		}
	}
	admin := adminv1connect.NewAdminServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), f.newKey(t, "ops", "admin")), "http://"+f.replicas[0].Addr)))
	id, _, _ := strings.Cut(strings.TrimPrefix(doomed, "sb_"), "_")
	if _, err := admin.RevokeApiKey(ctx, &adminv1.RevokeApiKeyRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		kittest.WaitWithin(t, time.Second, fmt.Sprintf("replica %d to refuse the revoked key", i), func() bool {
			_, err := f.direct(i, doomed).ListPets(ctx, &petstorev1.ListPetsRequest{})
			return connect.CodeOf(err) == connect.CodeUnauthenticated
		})
	}

	// Calls on every replica show in the overview read on C.
	for i := range 3 {
		for range 5 {
			_, _ = f.direct(i, f.key).GetPet(ctx, &petstorev1.GetPetRequest{Id: seen.GetPet().GetId()})
		}
	}
	viewer := adminv1connect.NewAdminServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), f.key), "http://"+f.replicas[2].Addr)))
	kittest.WaitFor(t, "the overview on C to count the 15 GetPet calls of all three", func() bool {
		res, err := viewer.GetMethodStats(ctx, &adminv1.GetMethodStatsRequest{Procedure: "petstore.v1.PetStoreService/GetPet"})
		return err == nil && res.GetMethod().GetStats().GetCount() == 15
	})
}

// newKey makes a key with scopes through the CLI, straight in the database.
func (f *fleet) newKey(t *testing.T, name string, scopes ...string) string {
	t.Helper()
	args := []string{"run", "../../cmd/switchboard", "keys", "create", "--name", name, "--dsn", f.dsn}
	for _, s := range scopes {
		args = append(args, "--scope", s)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// One replica is killed outright under load: the proxy routes around it,
// the others show it down once its heartbeats stop, and every call the
// survivors answered has its row.
func TestFleet_AKilledReplicaIsRoutedAroundAndLosesNoSurvivorsRow(t *testing.T) {
	f := startFleet(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a bound, whatever happens
	defer cancel()
	var proxied, proxiedFailed atomic.Int64
	stop := make(chan struct{})
	var load sync.WaitGroup
	for range 2 {
		load.Go(func() {
			for ctx.Err() == nil {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := f.client().ListPets(ctx, &petstorev1.ListPetsRequest{}); err != nil {
					proxiedFailed.Add(1)
				}
				proxied.Add(1)
			}
		})
	}
	// Calls straight to the survivors, each with a request id of its own.
	var mu sync.Mutex
	var answered []string
	for i := 1; i <= 2; i++ {
		load.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("survivor-%d-%d", i, n)
				cctx, info := connect.NewClientContext(ctx)
				info.RequestHeader().Set("X-Request-Id", id)
				if _, err := f.direct(i, f.key).ListPets(cctx, &petstorev1.ListPetsRequest{}); err == nil {
					mu.Lock()
					answered = append(answered, id)
					mu.Unlock()
				}
			}
		})
	}
	kittest.WaitFor(t, "load", func() bool { return proxied.Load() > 200 })
	f.replicas[0].Kill()
	afterKill := proxied.Load()
	kittest.WaitFor(t, "the proxy to route around the killed replica", func() bool { return proxied.Load() > afterKill+500 })
	failedBefore := proxiedFailed.Load()
	settled := proxied.Load()
	kittest.WaitFor(t, "more load with the replica gone", func() bool { return proxied.Load() > settled+500 })
	if n := proxiedFailed.Load() - failedBefore; n != 0 {
		t.Errorf("%d calls failed through the proxy after it had routed around the killed replica", n)
	}
	close(stop)
	load.Wait()
	t.Logf("%d calls through the proxy, %d failed (around the kill); %d answered by the survivors directly",
		proxied.Load(), proxiedFailed.Load(), len(answered))

	// The killed replica shows down on the survivors once its heartbeats
	// stop (three beats, 30 s).
	viewer := adminv1connect.NewAdminServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), f.key), "http://"+f.replicas[1].Addr)))
	kittest.WaitWithin(t, 45*time.Second, "the killed replica to show down", func() bool {
		res, err := viewer.ListInstances(ctx, &adminv1.ListInstancesRequest{})
		if err != nil {
			return false
		}
		up := 0
		for _, inst := range res.GetInstances() {
			if inst.GetUp() {
				up++
			}
		}
		return up == 2
	})
	// Every call a survivor answered has its row.
	kittest.WaitFor(t, "a row for every call the survivors answered", func() bool {
		var have int
		err := f.db(t).NewRaw("SELECT count(*) FROM switchboard_request_logs WHERE request_id LIKE 'survivor-%'").Scan(ctx, &have)
		return err == nil && have == len(answered)
	})
}

// db opens the fleet's database for the test to read.
func (f *fleet) db(t *testing.T) *bun.DB {
	t.Helper()
	if f.handle == nil {
		db, err := store.Open(t.Context(), f.dsn, store.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		f.handle = db
	}
	return f.handle
}
