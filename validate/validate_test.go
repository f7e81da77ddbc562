package validate_test

import (
	"errors"
	"slices"
	"testing"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
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
	msg := &petstorev1.ListPetsResponse{Pets: []*petstorev1.Pet{
		{Name: "ok", Species: petstorev1.Species_SPECIES_DOG},
		{Name: "", Species: petstorev1.Species(42), Tags: []string{"fine", ""}},
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
