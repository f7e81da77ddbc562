package petstore

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/gen/petstore/v1/petstorev1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// watchStream is a WatchPets stream as any client offers it.
type watchStream interface {
	Receive() (*petstorev1.WatchPetsResponse, error)
}

type grpcWatch struct{ stream grpc.ClientStream }

func (w grpcWatch) Receive() (*petstorev1.WatchPetsResponse, error) {
	res := new(petstorev1.WatchPetsResponse)
	return res, w.stream.RecvMsg(res)
}

var watchDesc = &grpc.StreamDesc{StreamName: "WatchPets", ServerStreams: true}

// watchClients opens WatchPets through a Connect client over h2c, a gRPC-Web
// client over HTTP/1.1 and gRPC-Go.
func (e *testEnv) watchClients(t *testing.T, ctx context.Context, req *petstorev1.WatchPetsRequest) map[string]watchStream {
	t.Helper()
	streams := map[string]watchStream{}
	for name, client := range map[string]petstorev1connect.PetStoreServiceClient{
		"connect-h2":    e.connectClient(kittest.H2CClient()),
		"grpcweb-http1": e.connectClient(http1Client(), connecthttp.WithGRPCWeb()),
		// WatchPets is public: the two clients above send no key.
	} {
		s, err := client.WatchPets(ctx, req)
		if err != nil {
			t.Fatalf("%s WatchPets: %v", name, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		streams[name] = s
	}
	gs, err := e.grpcConn(t).NewStream(ctx, watchDesc, petstorev1connect.PetStoreServiceWatchPetsProcedure)
	if err != nil {
		t.Fatal(err)
	}
	if err := gs.SendMsg(req); err != nil {
		t.Fatal(err)
	}
	if err := gs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	streams["grpc-go"] = grpcWatch{gs}
	// The connect streams open on first Receive; start every receive now.
	return streams
}

func TestWatchPets_StreamsLiveChangesOverEveryProtocol(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		env := start(t, dsn, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		streams := env.watchClients(t, ctx, &petstorev1.WatchPetsRequest{
			Species: petstorev1.Species_SPECIES_DOG, MaxEvents: 3,
		})
		type result struct {
			name   string
			events []*petstorev1.WatchPetsResponse
			err    error
		}
		results := make(chan result, len(streams))
		for name, s := range streams {
			go func() {
				var r = result{name: name}
				for {
					ev, err := s.Receive()
					if err != nil {
						r.err = err
						break
					}
					r.events = append(r.events, ev)
				}
				results <- r
			}()
		}
		env.waitWatchers(t, len(streams))

		api := env.clients(t)["connect-proto-h2"]
		rex, err := api.CreatePet(ctx, &petstorev1.CreatePetRequest{Pet: dog("Rex")})
		if err != nil {
			t.Fatal(err)
		}
		cat := dog("Tom")
		cat.Species = petstorev1.Species_SPECIES_CAT
		if _, err := api.CreatePet(ctx, &petstorev1.CreatePetRequest{Pet: cat}); err != nil {
			t.Fatal(err)
		}
		if _, err := api.UpdatePet(ctx, &petstorev1.UpdatePetRequest{Pet: withName(rex.GetPet(), "Rex II")}); err != nil {
			t.Fatal(err)
		}
		if _, err := api.DeletePet(ctx, &petstorev1.DeletePetRequest{Id: rex.GetPet().GetId()}); err != nil {
			t.Fatal(err)
		}

		want := []petstorev1.EventType{
			petstorev1.EventType_EVENT_TYPE_CREATED,
			petstorev1.EventType_EVENT_TYPE_UPDATED,
			petstorev1.EventType_EVENT_TYPE_DELETED,
		}
		for range streams {
			r := kittest.Receive(t, results, "a watcher's events")
			var got []petstorev1.EventType
			for _, ev := range r.events {
				got = append(got, ev.GetType())
				if ev.GetPet().GetId() != rex.GetPet().GetId() {
					t.Errorf("%s: event for pet %d; the filter should pass only Rex (%d)", r.name, ev.GetPet().GetId(), rex.GetPet().GetId())
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: events %v, want %v", r.name, got, want)
			}
			if !errors.Is(r.err, io.EOF) {
				t.Errorf("%s: stream ended with %v, want a clean end after max_events", r.name, r.err)
			}
		}
	})
}

func withName(p *petstorev1.Pet, name string) *petstorev1.Pet {
	c := dog(name)
	c.Id, c.Species, c.Status, c.Tags, c.AgeYears = p.GetId(), p.GetSpecies(), p.GetStatus(), p.GetTags(), p.GetAgeYears()
	return c
}

func TestImportPets_CreatesAllInOneTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		env := start(t, dsn, nil)
		ctx := t.Context()
		names := []string{"Ann", "Bob", "Cid"}

		// Connect client stream over h2c.
		stream, err := env.connectClient(kittest.WithBearer(kittest.H2CClient(), env.key)).ImportPets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := stream.Send(&petstorev1.ImportPetsRequest{Pet: dog(n)}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := stream.CloseAndReceive()
		if err != nil {
			t.Fatalf("ImportPets: %v", err)
		}
		if res.GetCreated() != 3 || len(res.GetIds()) != 3 {
			t.Fatalf("ImportPets = %v, want 3 created", res)
		}

		// gRPC-Go client stream; the third pet is invalid, so none is created.
		desc := &grpc.StreamDesc{StreamName: "ImportPets", ClientStreams: true}
		gs, err := env.grpcConn(t).NewStream(ctx, desc, petstorev1connect.PetStoreServiceImportPetsProcedure)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []*petstorev1.Pet{dog("Dee"), dog("Eve"), {Name: strings.Repeat("x", 65)}} {
			if err := gs.SendMsg(&petstorev1.ImportPetsRequest{Pet: p}); err != nil {
				t.Fatal(err)
			}
		}
		if err := gs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		err = gs.RecvMsg(new(petstorev1.ImportPetsResponse))
		if e := inspect(t, err); e.code != connect.CodeInvalidArgument ||
			!slices.Equal(e.fields, []string{"pet.name", "pet.species", "pet.status"}) {
			t.Errorf("ImportPets with an invalid pet: %v %v", e.code, e.fields)
		}

		list, err := env.clients(t)["grpc-go"].ListPets(ctx, &petstorev1.ListPetsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range list.GetPets() {
			got = append(got, p.GetName())
		}
		if !slices.Equal(got, names) {
			t.Errorf("pets after both imports = %v, want only %v", got, names)
		}
	})
}

// On shutdown an open WatchPets stream ends cleanly (OK), and a call made
// after shutdown began is refused.
func TestShutdown_EndsWatchCleanlyAndRefusesNewCalls(t *testing.T) {
	env := start(t, storetest.SQLiteDSN(t), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	streams := env.watchClients(t, ctx, &petstorev1.WatchPetsRequest{})
	ended := make(chan error, len(streams))
	for _, s := range streams {
		go func() {
			_, err := s.Receive()
			ended <- err
		}()
	}
	env.waitWatchers(t, len(streams))

	env.run.StopAsync()
	for range streams {
		if err := kittest.Receive(t, ended, "a watch to end"); !errors.Is(err, io.EOF) {
			t.Errorf("watch ended with %v, want a clean end of stream", err)
		}
	}
	if err := env.run.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	_, err := env.clients(t)["curl-json-http1"].ListPets(ctx, &petstorev1.ListPetsRequest{})
	if err == nil {
		t.Error("a call after shutdown succeeded")
	}
	gs, err := env.grpcConn(t).NewStream(ctx, watchDesc, petstorev1connect.PetStoreServiceWatchPetsProcedure)
	if err == nil {
		_ = gs.SendMsg(&petstorev1.WatchPetsRequest{})
		err = gs.RecvMsg(new(petstorev1.WatchPetsResponse))
	}
	if status.Code(err) != codes.Unavailable {
		t.Errorf("gRPC call after shutdown: %v, want Unavailable", err)
	}
}

func TestMaxReceiveBytes_LargerRequestIsResourceExhausted(t *testing.T) {
	env := start(t, storetest.SQLiteDSN(t), func(c *kit.Config) { c.MaxReceiveBytes = 64 << 10 })
	big := dog(strings.Repeat("x", 100<<10))
	for name, client := range env.clients(t) {
		_, err := client.CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: big})
		if e := inspect(t, err); e.code != connect.CodeResourceExhausted {
			t.Errorf("%s: %v, want resource_exhausted", name, err)
		}
	}
	// Just under the limit is served (and then fails validation, not size).
	_, err := env.clients(t)["grpc-go"].CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: dog(strings.Repeat("x", 60<<10))})
	if e := inspect(t, err); e.code != connect.CodeInvalidArgument {
		t.Errorf("just under the limit: %v, want invalid_argument from validation", err)
	}
}
