package openapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"

	"github.com/switchboardkit/switchboard/examples/petstore/openapi"
	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/internal/protoopt"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/rest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func load(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.YAML)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestDocument_IsValidOpenAPI: kin-openapi validates both files, and they
// are the same document.
func TestDocument_IsValidOpenAPI(t *testing.T) {
	doc := load(t)
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	js, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := openapi3.NewLoader().LoadFromData(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := fromJSON.Validate(t.Context()); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var a, b any
	if err := yaml.Unmarshal(openapi.YAML, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(roundTrip(t, a), roundTrip(t, b)) {
		t.Error("openapi.yaml and openapi.json differ: regenerate both (buf.gen.openapi.yaml)")
	}
}

func roundTrip(t *testing.T, v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDocument_DescribesWhatTheServerServes checks the document against
// the service itself: every REST route and every unary method's Connect
// route, with the security the kit applies.
func TestDocument_DescribesWhatTheServerServes(t *testing.T) {
	doc := load(t)
	svc := petstorev1.File_petstore_v1_petstore_proto.Services().ByName("PetStoreService")
	methods := svc.Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		routes, err := rest.RoutesOf(m)
		if err != nil {
			t.Fatal(err)
		}
		public := m.Name() == "GetPet" || m.Name() == "ListPets" || m.Name() == "WatchPets"
		var ops []*openapi3.Operation
		for _, r := range routes {
			op := find(doc, r.Method, r.Path)
			if op == nil {
				t.Errorf("%s: no operation for its route %s %s", m.Name(), r.Method, r.Path)
				continue
			}
			ops = append(ops, op)
		}
		connect := find(doc, "POST", "/"+string(svc.FullName())+"/"+string(m.Name()))
		unary := !m.IsStreamingClient() && !m.IsStreamingServer()
		if (connect != nil) != unary {
			t.Errorf("%s: Connect route described %v, unary %v", m.Name(), connect != nil, unary)
		}
		if connect != nil {
			ops = append(ops, connect)
		}
		for _, op := range ops {
			if open := op.Security != nil && len(*op.Security) == 0; open != public {
				t.Errorf("%s (%s): callable without a key %v, want %v", m.Name(), op.OperationID, open, public)
			}
		}
	}
	schemes := doc.Components.SecuritySchemes
	if schemes["bearerAuth"] == nil || schemes["apiKeyHeader"] == nil || schemes["apiKeyHeader"].Value.Name != "X-Api-Key" {
		t.Errorf("security schemes: %v", schemes)
	}
	if len(doc.Security) != 2 {
		t.Errorf("document security %v, want Bearer or X-Api-Key", doc.Security)
	}
}

// find returns the operation for method on a route template, whatever its
// variables are called (OpenAPI merges /v1/pets/{id} and /v1/pets/{pet.id}).
func find(doc *openapi3.T, method, template string) *openapi3.Operation {
	shape := func(p string) string {
		var b strings.Builder
		depth := 0
		for _, c := range p {
			switch {
			case c == '{':
				depth++
				b.WriteString("{}")
			case c == '}':
				depth--
			case depth == 0:
				b.WriteRune(c)
			}
		}
		return b.String()
	}
	for path, item := range doc.Paths.Map() {
		if shape(path) == shape(template) {
			return item.GetOperation(method)
		}
	}
	return nil
}

// TestDocument_CarriesTheRulesAndFieldBehavior: validation rules as schema
// constraints, and output-only fields read-only.
func TestDocument_CarriesTheRulesAndFieldBehavior(t *testing.T) {
	pet := load(t).Components.Schemas["Pet"].Value
	prop := func(name string) *openapi3.Schema { return pet.Properties[name].Value }
	if name := prop("name"); name.MinLength != 1 || name.MaxLength == nil || *name.MaxLength != 64 {
		t.Errorf("name: minLength %d maxLength %v, want 1 and 64 (required,max=64)", name.MinLength, name.MaxLength)
	}
	if age := prop("ageYears"); age.Min == nil || *age.Min != 0 || age.Max == nil || *age.Max != 100 {
		t.Errorf("ageYears: %v–%v, want 0–100", age.Min, age.Max)
	}
	tags := prop("tags")
	if tags.MaxItems == nil || *tags.MaxItems != 10 || tags.Items.Value.MinLength != 1 || *tags.Items.Value.MaxLength != 32 {
		t.Error("tags: want at most 10 items of 1–32 characters (max=10,dive,min=1,max=32)")
	}
	if species := prop("species"); slices.Contains(species.Enum, any("SPECIES_UNSPECIFIED")) || len(species.Enum) != 6 {
		t.Errorf("species (required,enum): %v, want the six defined species", species.Enum)
	}
	if !slices.Equal(pet.Required, []string{"name", "species", "status"}) {
		t.Errorf("required %v", pet.Required)
	}
	for _, name := range []string{"createTime", "updateTime"} {
		if !prop(name).ReadOnly {
			t.Errorf("%s (OUTPUT_ONLY) is not readOnly", name)
		}
	}
	if id := prop("id"); id.Format != "int64" || id.Pattern == "" {
		t.Errorf("id (int64, a JSON string): format %q pattern %q", id.Format, id.Pattern)
	}
	// An update (pet: structonly, with a mask) takes any of the fields.
	doc := load(t)
	partial := doc.Components.Schemas["PartialPet"]
	if partial == nil || len(partial.Value.Required) != 0 || partial.Value.Properties["name"] == nil {
		t.Fatal("no PartialPet without required fields")
	}
	patch := find(doc, "PATCH", "/v1/pets/{pet.id}")
	if ref := patch.RequestBody.Value.Content.Get("application/json").Schema.Ref; ref != "#/components/schemas/PartialPet" {
		t.Errorf("PATCH body is %s, want PartialPet", ref)
	}
	// Every field with rules keeps them as written.
	fields := (&petstorev1.Pet{}).ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if rules := protoopt.Rules(f); rules != "" && prop(f.JSONName()).Extensions["x-switchboard-rules"] != rules {
			t.Errorf("%s: x-switchboard-rules %v, want %q", f.Name(), prop(f.JSONName()).Extensions["x-switchboard-rules"], rules)
		}
	}
}

// TestServed_DocumentAndPage: the kit serves the document and its page,
// and -api-docs=false serves neither.
func TestServed_DocumentAndPage(t *testing.T) {
	url, _ := petStore(t)
	get := func(path string) (*http.Response, []byte) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	if resp, body := get("/openapi.yaml"); resp.StatusCode != 200 || !bytes.Equal(body, openapi.YAML) || resp.Header.Get("Content-Type") != "application/yaml" {
		t.Errorf("/openapi.yaml: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, body := get("/openapi.json"); resp.StatusCode != 200 || !json.Valid(body) || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("/openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body := get("/docs/")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "swagger-ui-bundle.js") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("/docs/: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}

	cfg := kittest.Config(storetest.SQLiteDSN(t))
	cfg.OpenAPI, cfg.APIDocs = openapi.YAML, false
	srv, err := kit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	off := kittest.Start(t, srv)
	for _, path := range []string{"/openapi.yaml", "/openapi.json", "/docs/"} {
		resp, err := http.Get(off.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s with -api-docs=false: %d, want 404", path, resp.StatusCode)
		}
	}
}
