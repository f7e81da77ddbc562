package petstore

import (
	"testing"

	"connectrpc.com/connect/v2"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// ListPets, GetPet and WatchPets are public; the writes need a key — over
// Connect JSON and over the REST routes alike.
func TestPolicy_ReadsArePublicWritesNeedAKey(t *testing.T) {
	env := start(t, storetest.SQLiteDSN(t), nil)
	readerKey := kittestKey(t, env, "*/ListPets")
	for name, as := range map[string]func(key string) unaryAPI{
		"connect-json": func(key string) unaryAPI { return &curlClient{base: env.run.URL, key: key} },
		"rest":         func(key string) unaryAPI { return &restClient{base: env.run.URL, key: key} },
	} {
		t.Run(name, func(t *testing.T) {
			anon := as("")
			ctx := t.Context()
			if _, err := anon.ListPets(ctx, &petstorev1.ListPetsRequest{}); err != nil {
				t.Errorf("ListPets without a key: %v", err)
			}
			if _, err := anon.GetPet(ctx, &petstorev1.GetPetRequest{Id: 1}); inspect(t, err).code != connect.CodeNotFound {
				t.Errorf("GetPet without a key: %v, want not_found (public)", err)
			}
			for name, call := range map[string]func() error{
				"CreatePet": func() error { _, err := anon.CreatePet(ctx, &petstorev1.CreatePetRequest{Pet: dog("x")}); return err },
				"UpdatePet": func() error {
					_, err := anon.UpdatePet(ctx, &petstorev1.UpdatePetRequest{Pet: dogWithID(1)})
					return err
				},
				"DeletePet": func() error { _, err := anon.DeletePet(ctx, &petstorev1.DeletePetRequest{Id: 1}); return err },
			} {
				if e := inspect(t, call()); e.code != connect.CodeUnauthenticated {
					t.Errorf("%s without a key: %v, want unauthenticated", name, e.code)
				}
			}
			// A key scoped to ListPets only may not write.
			reader := as(readerKey)
			if _, err := reader.CreatePet(ctx, &petstorev1.CreatePetRequest{Pet: dog("x")}); inspect(t, err).code != connect.CodePermissionDenied {
				t.Errorf("CreatePet with a ListPets-only key: %v, want permission_denied", err)
			}
		})
	}
}
