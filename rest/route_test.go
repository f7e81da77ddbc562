package rest

import (
	"net/url"
	"slices"
	"testing"
)

func TestRoute_MatchesTheTemplatesOfHTTPProto(t *testing.T) {
	for _, tc := range []struct {
		method, template string
		yes, no          []string
	}{
		{"GET", "/v1/pets/{id}", []string{"/v1/pets/7", "/v1/pets/rex"}, []string{"/v1/pets", "/v1/pets/7/x", "/v1/pets/", "/v2/pets/7"}},
		{"GET", "/v1/pets", []string{"/v1/pets"}, []string{"/v1/pets/7", "/v1"}},
		{"PATCH", "/v1/pets/{pet.id}", []string{"/v1/pets/7"}, []string{"/v1/pets"}},
		{"GET", "/v1/{name=shelters/*/pets/*}", []string{"/v1/shelters/a/pets/b"}, []string{"/v1/shelters/a/pets", "/v1/shelters/a/dogs/b"}},
		{"GET", "/v1/files/{path=**}", []string{"/v1/files/a", "/v1/files/a/b/c", "/v1/files"}, []string{"/v2/files/a"}},
		{"POST", "/v1/pets/{id}:adopt", []string{"/v1/pets/7:adopt"}, []string{"/v1/pets/7", "/v1/pets/7:sell"}},
		{"GET", "/v1/*/pets", []string{"/v1/x/pets"}, []string{"/v1/pets"}},
	} {
		segments, verb, err := parseTemplate(tc.template)
		if err != nil {
			t.Fatalf("%s: %v", tc.template, err)
		}
		r := Route{Method: tc.method, Path: tc.template, segments: segments, verb: verb}
		for _, p := range tc.yes {
			if !r.matches(tc.method, p) {
				t.Errorf("%s %s does not match %s", tc.method, tc.template, p)
			}
		}
		for _, p := range append(tc.no, "") {
			if r.matches(tc.method, p) {
				t.Errorf("%s %s matches %q", tc.method, tc.template, p)
			}
		}
		if len(tc.yes) > 0 && r.matches("DELETE", tc.yes[0]) {
			t.Errorf("%s %s matches another method", tc.method, tc.template)
		}
	}
}

func TestRoute_BadTemplatesAreRefused(t *testing.T) {
	for _, template := range []string{"v1/pets", "/v1//pets", "/v1/{id", "/v1/**/pets"} {
		if _, _, err := parseTemplate(template); err == nil {
			t.Errorf("%q parsed", template)
		}
	}
}

func TestRoute_FieldMasksTakeProtoOrJSONNames(t *testing.T) {
	r := Route{masks: []string{"update_mask", "updateMask"}}
	q := url.Values{"update_mask": {"name,age_years,pet.create_time"}, "updateMask": {"ageYears"}, "page_token": {"a_b"}}
	if !r.camelMasks(q) {
		t.Fatal("nothing changed")
	}
	if got := q["update_mask"]; !slices.Equal(got, []string{"name,ageYears,pet.createTime"}) {
		t.Errorf("update_mask = %v", got)
	}
	if q.Get("updateMask") != "ageYears" || q.Get("page_token") != "a_b" {
		t.Errorf("other parameters changed: %v", q)
	}
	if r.camelMasks(url.Values{"update_mask": {"name"}}) {
		t.Error("a mask in JSON names already was rewritten")
	}
}
