package petstore

import (
	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/validate"
)

// RegisterRules registers the pet store's validation rules; the kit's
// validate interceptor then checks every request message before a handler
// runs. A pet: name 1–64 characters; species and status set to a defined
// value; age 0–100; at most 10 tags of 1–32 characters.
func RegisterRules(e *validate.Engine) {
	e.Rules(&petstorev1.Pet{}, map[string]string{
		"Name":     "required,max=64",
		"Species":  "required,enum",
		"AgeYears": "gte=0,lte=100",
		"Tags":     "max=10,dive,min=1,max=32",
		"Status":   "required,enum",
	})
	e.Rules(&petstorev1.CreatePetRequest{}, map[string]string{"Pet": "required"})
	e.Rules(&petstorev1.ImportPetsRequest{}, map[string]string{"Pet": "required"})
	e.Rules(&petstorev1.GetPetRequest{}, map[string]string{"Id": "gt=0"})
	e.Rules(&petstorev1.DeletePetRequest{}, map[string]string{"Id": "gt=0"})
	e.Rules(&petstorev1.ListPetsRequest{}, map[string]string{
		"PageSize": "gte=0,lte=100",
		"Species":  "enum",
		"Status":   "enum",
	})
	e.Rules(&petstorev1.WatchPetsRequest{}, map[string]string{
		"Species":   "enum",
		"MaxEvents": "gte=0",
	})
	// UpdatePet changes only the fields in its mask, so the pet is checked
	// field by field in the handler (Engine.ValidateFields), not here.
	e.Rules(&petstorev1.UpdatePetRequest{}, map[string]string{"Pet": "required,structonly"})
}
