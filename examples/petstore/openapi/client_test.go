package openapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/switchboardkit/switchboard/examples/petstore/openapi/client"
)

// TestGeneratedClient_CallsEveryRoute calls the pet store through the
// client oapi-codegen generated from openapi.yaml alone: the REST routes
// and a Connect route, with the key as the document's security schemes
// say, and an error read as the document's google.rpc.Status.
func TestGeneratedClient_CallsEveryRoute(t *testing.T) {
	url, key := petStore(t)
	bearer := client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+key)
		return nil
	})
	api, err := client.NewClientWithResponses(url, bearer)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	created, err := api.PetStoreServiceCreatePetWithResponse(ctx, client.Pet{
		Name: "Olive", Species: client.PetSpeciesSPECIESCAT, Status: client.PetStatusPETSTATUSAVAILABLE, Tags: &[]string{"calm"},
	})
	if err != nil || created.JSON200 == nil || created.JSON200.Pet.Id == nil {
		t.Fatalf("CreatePet: %v HTTP %d %s", err, created.StatusCode(), created.Body)
	}
	id := *created.JSON200.Pet.Id

	got, err := api.PetStoreServiceGetPetWithResponse(ctx, id)
	if err != nil || got.JSON200 == nil || got.JSON200.Pet.Name != "Olive" || got.JSON200.Pet.CreateTime == nil {
		t.Fatalf("GetPet: %v HTTP %d %s", err, got.StatusCode(), got.Body)
	}

	cats := client.PetStoreServiceListPetsParamsSpecies("SPECIES_CAT")
	list, err := api.PetStoreServiceListPetsWithResponse(ctx, &client.PetStoreServiceListPetsParams{Species: &cats})
	if err != nil || list.JSON200 == nil || list.JSON200.Pets == nil || len(*list.JSON200.Pets) != 1 {
		t.Fatalf("ListPets(species=SPECIES_CAT): %v HTTP %d %s", err, list.StatusCode(), list.Body)
	}

	// A partial update: only the fields the mask names, as the document's
	// PartialPet allows.
	mask := "name,ageYears"
	name, age, adopted := "Olive II", int32(7), client.PartialPetStatusPETSTATUSADOPTED
	updated, err := api.PetStoreServiceUpdatePetWithResponse(ctx, id, &client.PetStoreServiceUpdatePetParams{UpdateMask: &mask},
		client.PartialPet{Name: &name, AgeYears: &age, Status: &adopted})
	if err != nil || updated.JSON200 == nil {
		t.Fatalf("UpdatePet: %v HTTP %d %s", err, updated.StatusCode(), updated.Body)
	}
	if p := updated.JSON200.Pet; p.Name != "Olive II" || *p.AgeYears != 7 || p.Status != client.PetStatusPETSTATUSAVAILABLE {
		t.Errorf("UpdatePet with mask %s changed %+v (status is outside the mask)", mask, p)
	}

	// The Connect route of the same method, from the same document.
	size := int32(10)
	connectList, err := api.PetStoreServiceListPetsConnectWithResponse(ctx, client.ListPetsRequest{PageSize: &size})
	if err != nil || connectList.JSON200 == nil || connectList.JSON200.Pets == nil || len(*connectList.JSON200.Pets) != 3 {
		t.Fatalf("ListPets over Connect: %v HTTP %d %s", err, connectList.StatusCode(), connectList.Body)
	}

	// An error is the document's google.rpc.Status.
	invalid, err := api.PetStoreServiceCreatePetWithResponse(ctx, client.Pet{Name: "", Species: client.PetSpeciesSPECIESDOG, Status: client.PetStatusPETSTATUSAVAILABLE})
	if err != nil || invalid.StatusCode() != http.StatusBadRequest || invalid.JSONDefault == nil ||
		invalid.JSONDefault.Code == nil || *invalid.JSONDefault.Code != 3 || invalid.JSONDefault.Details == nil {
		t.Fatalf("invalid CreatePet: %v HTTP %d %s", err, invalid.StatusCode(), invalid.Body)
	}

	deleted, err := api.PetStoreServiceDeletePetWithResponse(ctx, id)
	if err != nil || deleted.StatusCode() != http.StatusOK {
		t.Fatalf("DeletePet: %v HTTP %d %s", err, deleted.StatusCode(), deleted.Body)
	}
	if gone, _ := api.PetStoreServiceGetPetWithResponse(ctx, id); gone.StatusCode() != http.StatusNotFound {
		t.Errorf("GetPet after DeletePet: HTTP %d, want 404", gone.StatusCode())
	}
}
