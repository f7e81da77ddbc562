package petstore

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/switchboardkit/switchboard/gen/petstore/v1/petstorev1connect"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// An enum name the enum does not define is INVALID_ARGUMENT with a field
// violation — never a silently dropped filter — over Connect JSON POST and
// GET; unknown fields are still accepted.
func TestEnums_UnknownNamesInJSONAreInvalidArgument(t *testing.T) {
	env := start(t, storetest.SQLiteDSN(t), nil)
	post := func(procedure, body string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, env.run.URL+procedure, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+env.key)
		return do(t, req)
	}
	get := func(procedure, message string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet,
			env.run.URL+procedure+"?encoding=json&message="+url.QueryEscape(message), nil)
		return do(t, req)
	}
	list, create := petstorev1connect.PetStoreServiceListPetsProcedure, petstorev1connect.PetStoreServiceCreatePetProcedure
	for _, tc := range []struct {
		name   string
		call   func() (int, string)
		fields []string // nil: OK
	}{
		{"POST ListPets species X", func() (int, string) { return post(list, `{"species":"X"}`) }, []string{"species"}},
		{"GET ListPets species X", func() (int, string) { return get(list, `{"species":"X"}`) }, []string{"species"}},
		{"POST ListPets two bad enums", func() (int, string) { return post(list, `{"species":"X","status":"Y"}`) }, []string{"species", "status"}},
		{"POST CreatePet nested", func() (int, string) {
			return post(create, `{"pet":{"name":"Rex","species":"SPECIES_DRAGON","age_years":1,"status":"PET_STATUS_AVAILABLE"}}`)
		}, []string{"pet.species"}},
		{"POST ListPets numeric 99", func() (int, string) { return post(list, `{"species":99}`) }, []string{"species"}},
		{"POST ListPets known name", func() (int, string) { return post(list, `{"species":"SPECIES_CAT"}`) }, nil},
		{"POST ListPets unknown field", func() (int, string) { return post(list, `{"species":"SPECIES_CAT","addedLater":1}`) }, nil},
	} {
		status, body := tc.call()
		if tc.fields == nil {
			if status != http.StatusOK {
				t.Errorf("%s: HTTP %d %s", tc.name, status, body)
			}
			continue
		}
		var e struct {
			Code    string
			Details []struct {
				Type  string
				Debug struct {
					Reason          string
					FieldViolations []struct{ Field, Description string }
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Code != "invalid_argument" {
			t.Errorf("%s: HTTP %d %s, want invalid_argument", tc.name, status, body)
			continue
		}
		var fields []string
		var reason string
		for _, d := range e.Details {
			if d.Type == "google.rpc.ErrorInfo" {
				reason = d.Debug.Reason
			}
			for _, v := range d.Debug.FieldViolations {
				fields = append(fields, v.Field)
			}
		}
		slices.Sort(fields)
		if !slices.Equal(fields, tc.fields) || reason != "VALIDATION_FAILED" {
			t.Errorf("%s: fields %v reason %q, want %v VALIDATION_FAILED (%s)", tc.name, fields, reason, tc.fields, body)
		}
	}
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(data)
}
