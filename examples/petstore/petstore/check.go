package petstore

import (
	"fmt"
	"unicode/utf8"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
)

// The pet store's rules for a pet: name 1–64 characters; species and status
// set; age 0–100; at most 10 tags of 1–32 characters.
const (
	maxNameLen = 64
	maxAge     = 100
	maxTags    = 10
	maxTagLen  = 32
)

// violations collects field violations under a path prefix such as "pet".
type violations []*errdetails.BadRequest_FieldViolation

func (v *violations) add(field, reason, format string, args ...any) {
	*v = append(*v, &errdetails.BadRequest_FieldViolation{
		Field:       field,
		Description: fmt.Sprintf(format, args...),
		Reason:      reason,
	})
}

// checkPet checks the fields of p named in paths, reporting under prefix.
func (v *violations) checkPet(prefix string, p *petstorev1.Pet, paths []string) {
	if p == nil {
		v.add(prefix, "required", "%s is required", prefix)
		return
	}
	for _, path := range paths {
		field := prefix + "." + path
		switch path {
		case "name":
			if n := utf8.RuneCountInString(p.GetName()); n < 1 || n > maxNameLen {
				v.add(field, "length", "name must be 1 to %d characters, got %d", maxNameLen, n)
			}
		case "species":
			if p.GetSpecies() == petstorev1.Species_SPECIES_UNSPECIFIED {
				v.add(field, "required", "species must be set")
			} else if _, ok := petstorev1.Species_name[int32(p.GetSpecies())]; !ok {
				v.add(field, "enum", "species %d is not a known species", p.GetSpecies())
			}
		case "status":
			if p.GetStatus() == petstorev1.PetStatus_PET_STATUS_UNSPECIFIED {
				v.add(field, "required", "status must be set")
			} else if _, ok := petstorev1.PetStatus_name[int32(p.GetStatus())]; !ok {
				v.add(field, "enum", "status %d is not a known status", p.GetStatus())
			}
		case "age_years":
			if a := p.GetAgeYears(); a < 0 || a > maxAge {
				v.add(field, "range", "age_years must be 0 to %d, got %d", maxAge, a)
			}
		case "tags":
			v.checkTags(field, p.GetTags())
		}
	}
}

func (v *violations) checkTags(field string, tags []string) {
	if len(tags) > maxTags {
		v.add(field, "max_items", "at most %d tags, got %d", maxTags, len(tags))
	}
	for i, tag := range tags {
		if n := utf8.RuneCountInString(tag); n < 1 || n > maxTagLen {
			v.add(fmt.Sprintf("%s[%d]", field, i), "length", "a tag must be 1 to %d characters, got %d", maxTagLen, n)
		}
	}
}

// err returns nil when there are no violations, else INVALID_ARGUMENT with a
// google.rpc.BadRequest detail listing every one.
func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	cerr := connect.NewError(connect.CodeInvalidArgument, v[0].GetDescription())
	if len(v) > 1 {
		cerr = connect.Errorf(connect.CodeInvalidArgument, "%s (and %d more)", v[0].GetDescription(), len(v)-1)
	}
	detail, err := connectproto.NewErrorDetail(&errdetails.BadRequest{FieldViolations: v})
	if err != nil {
		return cerr
	}
	return cerr.WithDetail(detail)
}
