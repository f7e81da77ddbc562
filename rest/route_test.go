package rest

import (
	"testing"
)

func route(t *testing.T, method, template string) Route {
	t.Helper()
	segments, verb, err := parseTemplate(template)
	if err != nil {
		t.Fatalf("%s: %v", template, err)
	}
	r := Route{Method: method, Path: template, segments: segments, verb: verb}
	for _, s := range segments { // what resolveFields does besides resolving, which needs a request type
		r.ranks = append(r.ranks, s.rank())
	}
	return r
}

func TestRoute_MatchesTheTemplatesOfHTTPProto(t *testing.T) {
	for _, tc := range []struct {
		method, template string
		yes, no          []string
	}{
		{"GET", "/v1/pets/{id}", []string{"/v1/pets/7", "/v1/pets/rex"}, []string{"/v1/pets", "/v1/pets/7/x", "/v2/pets/7"}},
		{"GET", "/v1/pets", []string{"/v1/pets"}, []string{"/v1/pets/7", "/v1"}},
		{"PATCH", "/v1/pets/{pet.id}", []string{"/v1/pets/7"}, []string{"/v1/pets"}},
		{"GET", "/v1/{name=shelters/*/pets/*}", []string{"/v1/shelters/a/pets/b"}, []string{"/v1/shelters/a/pets", "/v1/shelters/a/dogs/b"}},
		{"GET", "/v1/files/{path=**}", []string{"/v1/files/a", "/v1/files/a/b/c", "/v1/files"}, []string{"/v2/files/a"}},
		{"POST", "/v1/pets/{id}:adopt", []string{"/v1/pets/7:adopt"}, []string{"/v1/pets/7", "/v1/pets/7:sell", "/v1/pets/7:"}},
		{"GET", "/v1/*/pets", []string{"/v1/x/pets", "/v1//pets"}, []string{"/v1/pets"}},
	} {
		r := route(t, tc.method, tc.template)
		routes := []Route{r}
		for _, p := range tc.yes {
			if first(match(routes, tc.method, p)) == nil {
				t.Errorf("%s %s does not match %s", tc.method, tc.template, p)
			}
		}
		for _, p := range append(tc.no, "", "v1/pets") {
			if first(match(routes, tc.method, p)) != nil {
				t.Errorf("%s %s matches %q", tc.method, tc.template, p)
			}
		}
		if len(tc.yes) > 0 && first(match(routes, "DELETE", tc.yes[0])) != nil {
			t.Errorf("%s %s matches another method", tc.method, tc.template)
		}
	}
}

// When templates overlap, the route taken is the one the transcoder takes:
// literals before '*' before '**', from the left, whatever the order of
// declaration; then the method's route, or a custom "*" one.
func TestRoute_OverlapsAreResolvedAsTheTranscoderDoes(t *testing.T) {
	routes := []Route{
		route(t, "GET", "/v1/pets/{id}"),
		route(t, "GET", "/v1/pets/search"),
		route(t, "GET", "/v1/{path=**}"),
		route(t, "*", "/v1/pets/{id}:touch"),
		route(t, "POST", "/v1/pets/{id}:touch"),
	}
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/v1/pets/search", "/v1/pets/search"},
		{"GET", "/v1/pets/7", "/v1/pets/{id}"},
		{"GET", "/v1/other/thing", "/v1/{path=**}"},
		{"POST", "/v1/pets/7:touch", "/v1/pets/{id}:touch"},
		{"PUT", "/v1/pets/7:touch", "/v1/pets/{id}:touch"},
		{"DELETE", "/v1/pets/7", ""}, // the template matches, no route has the method: not found
	} {
		got, _ := match(routes, tc.method, tc.path)
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%s %s took %s, want none", tc.method, tc.path, got.Path)
		case tc.want != "" && (got == nil || got.Path != tc.want):
			t.Errorf("%s %s took %v, want %s", tc.method, tc.path, got, tc.want)
		case tc.path == "/v1/pets/7:touch" && got.Method != map[string]string{"POST": "POST", "PUT": "*"}[tc.method]:
			t.Errorf("%s %s took the %s route", tc.method, tc.path, got.Method)
		}
	}
}

func first(r *Route, _ []string) *Route { return r }

func TestRoute_BadTemplatesAreRefused(t *testing.T) {
	for _, template := range []string{"v1/pets", "/v1//pets", "/v1/{id", "/v1/**/pets", "/v1/{id=}"} {
		if _, _, err := parseTemplate(template); err == nil {
			t.Errorf("%q parsed", template)
		}
	}
}

func TestRoute_VariablesAreReadFromThePath(t *testing.T) {
	r := route(t, "GET", "/v1/{parent=shelters/*}/pets/{pet.id}/{rest=**}")
	parts, _, _ := split("/v1/shelters/s1/pets/7/a/b")
	got := r.variables(parts)
	if got["parent"] != "shelters/s1" || got["pet.id"] != "7" || got["rest"] != "a/b" {
		t.Errorf("variables %v", got)
	}
}

func TestFieldMaskPaths_TakeProtoOrJSONNames(t *testing.T) {
	for in, want := range map[string]string{
		"name,age_years,pet.create_time": "name,ageYears,pet.createTime",
		"ageYears":                       "ageYears",
		"a_1":                            "a1",
	} {
		if got, err := jsonMaskPaths(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"Name", "age__years", "name,,age", "_name", "name_", ""} {
		if got, err := jsonMaskPaths(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}
