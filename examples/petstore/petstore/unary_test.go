package petstore

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// One table over every client: what curl, a Connect client, a gRPC-Web
// client and gRPC-Go see must be the same pet store.
func TestUnary_CRUDOverEveryProtocol(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		env := start(t, dsn, nil)
		for name, client := range env.clients(t) {
			t.Run(name, func(t *testing.T) {
				ctx := t.Context()
				created, err := client.CreatePet(ctx, &petstorev1.CreatePetRequest{Pet: dog("Rex " + name)})
				if err != nil {
					t.Fatalf("CreatePet: %v", err)
				}
				pet := created.GetPet()
				if pet.GetId() <= 0 || pet.GetCreateTime() == nil || !pet.GetCreateTime().AsTime().Equal(pet.GetUpdateTime().AsTime()) {
					t.Fatalf("created pet has no id or timestamps: %v", pet)
				}

				got, err := client.GetPet(ctx, &petstorev1.GetPetRequest{Id: pet.GetId()})
				if err != nil {
					t.Fatalf("GetPet: %v", err)
				}
				if !proto.Equal(got.GetPet(), pet) {
					t.Errorf("GetPet = %v, want %v", got.GetPet(), pet)
				}

				updated, err := client.UpdatePet(ctx, &petstorev1.UpdatePetRequest{
					Pet:        &petstorev1.Pet{Id: pet.GetId(), Status: petstorev1.PetStatus_PET_STATUS_ADOPTED, Name: "ignored"},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
				})
				if err != nil {
					t.Fatalf("UpdatePet: %v", err)
				}
				u := updated.GetPet()
				if u.GetStatus() != petstorev1.PetStatus_PET_STATUS_ADOPTED || u.GetName() != pet.GetName() ||
					!slices.Equal(u.GetTags(), pet.GetTags()) || u.GetUpdateTime().AsTime().Before(pet.GetUpdateTime().AsTime()) {
					t.Errorf("UpdatePet with mask [status] = %v", u)
				}

				list, err := client.ListPets(ctx, &petstorev1.ListPetsRequest{Status: petstorev1.PetStatus_PET_STATUS_ADOPTED})
				if err != nil {
					t.Fatalf("ListPets: %v", err)
				}
				if !slices.ContainsFunc(list.GetPets(), func(p *petstorev1.Pet) bool { return p.GetId() == pet.GetId() }) {
					t.Errorf("ListPets(ADOPTED) does not contain pet %d", pet.GetId())
				}

				if _, err := client.DeletePet(ctx, &petstorev1.DeletePetRequest{Id: pet.GetId()}); err != nil {
					t.Fatalf("DeletePet: %v", err)
				}
				_, err = client.GetPet(ctx, &petstorev1.GetPetRequest{Id: pet.GetId()})
				if e := inspect(t, err); e.code != connect.CodeNotFound {
					t.Errorf("GetPet after delete: %v, want not_found", err)
				}
			})
		}
	})
}

func TestUnary_ErrorsCarryCodesAndFieldViolationsOverEveryProtocol(t *testing.T) {
	env := start(t, storetest.SQLiteDSN(t), nil)
	for name, client := range env.clients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			for _, tc := range []struct {
				name       string
				call       func() error
				wantCode   connect.Code
				wantFields []string
			}{
				{"get missing", func() error {
					_, err := client.GetPet(ctx, &petstorev1.GetPetRequest{Id: 987654})
					return err
				}, connect.CodeNotFound, nil},
				{"delete missing", func() error {
					_, err := client.DeletePet(ctx, &petstorev1.DeletePetRequest{Id: 987654})
					return err
				}, connect.CodeNotFound, nil},
				{"create invalid", func() error {
					pet := &petstorev1.Pet{Name: "", AgeYears: 101, Tags: []string{"ok", ""}}
					_, err := client.CreatePet(ctx, &petstorev1.CreatePetRequest{Pet: pet})
					return err
				}, connect.CodeInvalidArgument, []string{"pet.age_years", "pet.name", "pet.species", "pet.status", "pet.tags[1]"}},
				{"create without pet", func() error {
					_, err := client.CreatePet(ctx, &petstorev1.CreatePetRequest{})
					return err
				}, connect.CodeInvalidArgument, []string{"pet"}},
				{"update unknown path", func() error {
					_, err := client.UpdatePet(ctx, &petstorev1.UpdatePetRequest{
						Pet:        &petstorev1.Pet{Id: 1},
						UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"create_time"}},
					})
					return err
				}, connect.CodeInvalidArgument, []string{"update_mask"}},
				{"update missing pet", func() error {
					_, err := client.UpdatePet(ctx, &petstorev1.UpdatePetRequest{Pet: dogWithID(987654)})
					return err
				}, connect.CodeNotFound, nil},
				{"page size too large", func() error {
					_, err := client.ListPets(ctx, &petstorev1.ListPetsRequest{PageSize: 101})
					return err
				}, connect.CodeInvalidArgument, []string{"page_size"}},
			} {
				if name == "rest-json-http1" && tc.name == "create without pet" {
					// On POST /v1/pets the body is the pet: no body is an
					// empty pet, whose required fields are then missing.
					tc.wantFields = []string{"pet.name", "pet.species", "pet.status"}
				}
				got := inspect(t, tc.call())
				if got.code != tc.wantCode || !slices.Equal(got.fields, tc.wantFields) {
					t.Errorf("%s: %v %v, want %v %v", tc.name, got.code, got.fields, tc.wantCode, tc.wantFields)
				}
			}
		})
	}
}

func dogWithID(id int64) *petstorev1.Pet {
	p := dog("Ghost")
	p.Id = id
	return p
}

// Side-effect-free methods answer Connect GET requests, so a browser or a
// CDN can cache them.
func TestConnectGET_ForSideEffectFreeMethods(t *testing.T) {
	env := start(t, storetest.SQLiteDSN(t), nil)
	created, err := env.clients(t)["connect-proto-h2"].CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: dog("Getty")})
	if err != nil {
		t.Fatal(err)
	}
	message := url.QueryEscape(fmt.Sprintf(`{"id":%d}`, created.GetPet().GetId()))
	resp, err := http.Get(env.run.URL + "/petstore.v1.PetStoreService/GetPet?encoding=json&message=" + message)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"Getty"`) {
		t.Fatalf("GET GetPet = %d %s", resp.StatusCode, body)
	}
	resp2, err := http.Get(env.run.URL + "/petstore.v1.PetStoreService/DeletePet?encoding=json&message={}")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp2.Body.Close()
	if resp2.StatusCode == http.StatusOK {
		t.Error("GET on DeletePet (not side-effect free) was served")
	}
}
