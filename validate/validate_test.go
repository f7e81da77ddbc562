package validate_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/validate"
)

func fields(t *testing.T, err error) []string {
	t.Helper()
	var verr *validate.Error
	if !errors.As(err, &verr) {
		t.Fatalf("error %v is not a *validate.Error", err)
	}
	var out []string
	for _, v := range verr.Violations {
		out = append(out, v.Field)
		if v.Description == "" || v.Rule == "" {
			t.Errorf("violation %+v lacks a description or rule", v)
		}
	}
	slices.Sort(out)
	return out
}

func TestEngine_ProtoFieldPathsThroughNestedAndRepeatedMessages(t *testing.T) {
	e := validate.New()
	e.Rules(&petstorev1.Pet{}, map[string]string{
		"Name": "required,max=64", "Species": "required,enum", "Tags": "max=10,dive,min=1,max=32",
	})
	e.Rules(&petstorev1.ListPetsResponse{}, map[string]string{"Pets": "dive"})
	available := petstorev1.PetStatus_PET_STATUS_AVAILABLE // status: required by the proto
	msg := &petstorev1.ListPetsResponse{Pets: []*petstorev1.Pet{
		{Name: "ok", Species: petstorev1.Species_SPECIES_DOG, Status: available},
		{Name: "", Species: petstorev1.Species(42), Tags: []string{"fine", ""}, Status: available},
	}}
	got := fields(t, e.Validate(msg))
	want := []string{"pets[1].name", "pets[1].species", "pets[1].tags[1]"}
	if !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
	if err := e.Validate(&petstorev1.ListPetsResponse{}); err != nil {
		t.Errorf("valid message: %v", err)
	}
}

// The rules live in petstore.proto, beside each field; no Go rule is given.
func TestEngine_RulesComeFromTheProto(t *testing.T) {
	e := validate.New()
	err := e.Validate(&petstorev1.CreatePetRequest{Pet: &petstorev1.Pet{
		Name: strings.Repeat("x", 65), AgeYears: 101, Tags: []string{""}, Species: petstorev1.Species(42),
	}})
	want := []string{"pet.age_years", "pet.name", "pet.species", "pet.status", "pet.tags[0]"}
	if got := fields(t, err); !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
	if got := fields(t, e.Validate(&petstorev1.CreatePetRequest{})); !slices.Equal(got, []string{"pet"}) {
		t.Errorf("a missing pet: %v", got)
	}
}

// A rule given in Go replaces the proto's for that field only.
func TestEngine_GoRulesReplaceOneFieldAndKeepTheRest(t *testing.T) {
	e := validate.New()
	e.Rules(&petstorev1.Pet{}, map[string]string{"Name": "max=3"})
	err := e.Validate(&petstorev1.Pet{Name: "", Species: petstorev1.Species_SPECIES_CAT})
	if got := fields(t, err); !slices.Equal(got, []string{"status"}) {
		t.Errorf("fields = %v, want only status (name's proto rule replaced by max=3)", got)
	}
	if got := fields(t, e.Validate(&petstorev1.Pet{Name: "Rex!", Species: petstorev1.Species_SPECIES_CAT, Status: 1})); !slices.Equal(got, []string{"name"}) {
		t.Errorf("fields = %v, want name (max=3)", got)
	}
}

// Rules may be registered while other goroutines validate: the engine never
// changes a validator in use (run with -race).
func TestEngine_RulesAndValidateConcurrently(t *testing.T) {
	e := validate.New()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 200 {
				_ = e.Validate(&petstorev1.GetPetRequest{Id: int64(i)})
				_ = e.Validate(&petstorev1.ListPetsRequest{PageSize: 500})
			}
		})
	}
	for range 50 {
		e.Rules(&petstorev1.DeletePetRequest{}, map[string]string{"Id": "gt=0"})
	}
	wg.Wait()
	if got := fields(t, e.Validate(&petstorev1.GetPetRequest{})); !slices.Equal(got, []string{"id"}) {
		t.Errorf("fields = %v", got)
	}
}

type item struct {
	Name string   `json:"name" validate:"required"`
	Tags []string `json:"tags" validate:"dive,min=1"`
}

type order struct {
	Items []item `json:"items" validate:"max=3,dive"`
}

func TestEngine_DomainStructsUseJSONNames(t *testing.T) {
	e := validate.New()
	err := e.Validate(order{Items: []item{{Name: "a"}, {Name: "b"}, {Name: "", Tags: []string{""}}}})
	if got, want := fields(t, err), []string{"items[2].name", "items[2].tags[0]"}; !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
}

type selfChecked struct{ A, B int }

func (s selfChecked) Validate() error {
	if s.A > s.B {
		return validate.Fieldf("a", "lte_field", "must not exceed b")
	}
	return nil
}

func TestEngine_ValidateMethodJoinsTheRules(t *testing.T) {
	e := validate.New()
	if got := fields(t, e.Validate(selfChecked{A: 2, B: 1})); !slices.Equal(got, []string{"a"}) {
		t.Errorf("fields = %v", got)
	}
	if err := e.Validate(selfChecked{A: 1, B: 2}); err != nil {
		t.Errorf("valid: %v", err)
	}
}

func TestEngine_ValidateFieldsChecksOnlyTheMask(t *testing.T) {
	e := validate.New()
	e.Rules(&petstorev1.Pet{}, map[string]string{"Name": "required", "Species": "required"})
	pet := &petstorev1.Pet{Species: petstorev1.Species_SPECIES_CAT}
	if err := e.ValidateFields(pet, "species"); err != nil {
		t.Errorf("species only: %v", err)
	}
	if got := fields(t, e.ValidateFields(pet, "name", "species")); !slices.Equal(got, []string{"name"}) {
		t.Errorf("name and species: %v", got)
	}
}

// Every shape of field gets its proto rules: list and map elements (no
// "dive" needed in the proto), a message in a oneof and a scalar oneof
// member (on the generated wrapper), an unset proto3 optional (skipped).
func TestEngine_ProtoRulesReachListsMapsOneofsAndOptionals(t *testing.T) {
	e := validate.New()
	bad := &switchboardtestv1.ProbeItem{}
	if got := fields(t, e.Validate(&switchboardtestv1.Probe{
		Items:  []*switchboardtestv1.ProbeItem{{Name: "ok"}, bad},
		ByName: map[string]*switchboardtestv1.ProbeItem{"k": bad},
		Choice: &switchboardtestv1.Probe_One{One: bad},
		Note:   proto.String("too long"),
	})); !slices.Equal(got, []string{"by_name[k].name", "items[1].name", "note", "one.name"}) {
		t.Errorf("fields = %v", got)
	}
	if got := fields(t, e.Validate(&switchboardtestv1.Probe{Choice: &switchboardtestv1.Probe_Code{Code: "four"}})); !slices.Equal(got, []string{"code"}) {
		t.Errorf("scalar oneof member: %v", got)
	}
	if err := e.Validate(&switchboardtestv1.Probe{}); err != nil {
		t.Errorf("an empty probe (note unset): %v", err)
	}
	if got := fields(t, e.Validate(&switchboardtestv1.Probe{Items: make([]*switchboardtestv1.ProbeItem, 4)})); !slices.Contains(got, "items") {
		t.Errorf("the list's own rule (max=3) with dive added: %v", got)
	}
}

// The first validations of a message, at once from many goroutines, all
// see its rules: it counts as known only once its rules are in use.
func TestEngine_FirstConcurrentValidationsSeeTheRules(t *testing.T) {
	for range 20 {
		e := validate.New()
		var wg sync.WaitGroup
		var passed atomic.Int32
		for range 8 {
			wg.Go(func() {
				if e.Validate(&switchboardtestv1.ProbeItem{}) == nil {
					passed.Add(1)
				}
			})
		}
		wg.Wait()
		if passed.Load() != 0 {
			t.Fatalf("%d of 8 first validations let an invalid message through", passed.Load())
		}
	}
}

func TestEngine_ValidateFieldsRefusesPathsItCannotCheck(t *testing.T) {
	e := validate.New()
	pet := &petstorev1.Pet{Name: "Rex"}
	if err := e.ValidateFields(pet, "name"); err != nil {
		t.Errorf("a valid masked field: %v", err)
	}
	if got := fields(t, e.ValidateFields(pet, "name", "owner.name")); !slices.Equal(got, []string{"owner.name"}) {
		t.Errorf("an unknown path: %v", got)
	}
}
