package petstore

import (
	"slices"
	"testing"

	"connectrpc.com/connect/v2"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/gen/petstore/v1/petstorev1connect"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func TestListPets_PagesAreStableUnderInsertsAndFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		env := start(t, dsn, nil)
		api := env.clients(t)["grpc-go"]
		ctx := t.Context()
		var dogs []int64
		for i := range 7 {
			p := dog("pet")
			if i%2 == 1 {
				p.Species = petstorev1.Species_SPECIES_CAT
			}
			res, err := api.CreatePet(ctx, &petstorev1.CreatePetRequest{Pet: p})
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				dogs = append(dogs, res.GetPet().GetId())
			}
		}

		// Page through dogs two at a time, inserting a dog between pages:
		// pages never repeat or skip a pet that existed when paging began,
		// and the new dogs (higher ids) appear at the end.
		var seen []int64
		req := &petstorev1.ListPetsRequest{PageSize: 2, Species: petstorev1.Species_SPECIES_DOG}
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("paging did not end")
			}
			res, err := api.ListPets(ctx, req)
			if err != nil {
				t.Fatalf("ListPets page %d: %v", pages, err)
			}
			for _, p := range res.GetPets() {
				if p.GetSpecies() != petstorev1.Species_SPECIES_DOG {
					t.Errorf("filter leaked a %v", p.GetSpecies())
				}
				seen = append(seen, p.GetId())
			}
			if res.GetNextPageToken() == "" {
				break
			}
			if pages < 2 {
				created, err := api.CreatePet(ctx, &petstorev1.CreatePetRequest{Pet: dog("late")})
				if err != nil {
					t.Fatal(err)
				}
				dogs = append(dogs, created.GetPet().GetId())
			}
			req.PageToken = res.GetNextPageToken()
		}
		if !slices.Equal(seen, dogs) {
			t.Errorf("paged ids %v, want %v", seen, dogs)
		}

		// A token is bound to its query and cannot be forged.
		first, err := api.ListPets(ctx, &petstorev1.ListPetsRequest{PageSize: 1, Species: petstorev1.Species_SPECIES_DOG})
		if err != nil {
			t.Fatal(err)
		}
		for name, bad := range map[string]*petstorev1.ListPetsRequest{
			"other filter": {PageSize: 1, Species: petstorev1.Species_SPECIES_CAT, PageToken: first.GetNextPageToken()},
			"garbage":      {PageToken: "not-a-token"},
		} {
			_, err := api.ListPets(ctx, bad)
			if e := inspect(t, err); e.code != connect.CodeInvalidArgument || !slices.Equal(e.fields, []string{"page_token"}) {
				t.Errorf("%s: %v %v, want invalid_argument on page_token", name, e.code, e.fields)
			}
		}
	})
}

func TestPetStore_VisibleToReflectionAndHealth(t *testing.T) {
	env := start(t, storetest.SQLiteDSN(t), nil)
	conn := env.grpcConn(t)
	ctx := t.Context()

	res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: petstorev1connect.PetStoreServiceName})
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health of %s = %v, %v; want SERVING", petstorev1connect.PetStoreServiceName, res, err)
	}

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	list, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, petstorev1connect.PetStoreServiceName) {
		t.Errorf("reflection lists %v, want %s among them", names, petstorev1connect.PetStoreServiceName)
	}
}
