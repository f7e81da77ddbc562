package petstore

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard/cluster"
	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// Two replicas on one PostgreSQL: a watcher on A sees a pet created
// through B, and when A's bus may have missed events, its watchers are told
// to re-list instead of trusting a stream with a hole in it.
func TestWatchPets_AcrossReplicas(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	a, b := start(t, dsn, nil), start(t, dsn, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	watch, err := a.connectClient(kittest.H2CClient()).WatchPets(ctx, &petstorev1.WatchPetsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	a.waitWatchers(t, 1)
	created, err := b.connectClient(kittest.WithBearer(kittest.H2CClient(), b.key)).CreatePet(
		ctx, &petstorev1.CreatePetRequest{Pet: dog("Rex")})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := watch.Receive()
	if err != nil || ev.GetType() != petstorev1.EventType_EVENT_TYPE_CREATED || ev.GetPet().GetId() != created.GetPet().GetId() {
		t.Fatalf("A's watcher got %v, %v; want the pet created on B", ev, err)
	}

	// A's listener loses its connection: notifications may have been
	// missed, so A's watcher ends UNAVAILABLE and re-lists.
	if _, err := a.srv.DB().ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = ?`, cluster.ApplicationName(a.srv.Cluster().Origin())); err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Receive(); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("after A's bus reconnected, its watcher got %v; want unavailable (re-list)", err)
	}
}
