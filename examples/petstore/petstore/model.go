package petstore

import (
	"time"

	"github.com/uptrace/bun"
	"google.golang.org/protobuf/types/known/timestamppb"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
)

// petRow is one pet in the pets table.
type petRow struct {
	bun.BaseModel `bun:"table:pets"`

	ID         int64     `bun:"id,pk,autoincrement"`
	Name       string    `bun:"name,notnull"`
	Species    int32     `bun:"species,notnull"`
	AgeYears   int32     `bun:"age_years,notnull"`
	Tags       []string  `bun:"tags,type:text,notnull"` // JSON array, portable across dialects
	Status     int32     `bun:"status,notnull"`
	CreateTime time.Time `bun:"create_time,notnull"`
	UpdateTime time.Time `bun:"update_time,notnull"`
}

func (r *petRow) proto() *petstorev1.Pet {
	return &petstorev1.Pet{
		Id:         r.ID,
		Name:       r.Name,
		Species:    petstorev1.Species(r.Species),
		AgeYears:   r.AgeYears,
		Tags:       append([]string(nil), r.Tags...),
		Status:     petstorev1.PetStatus(r.Status),
		CreateTime: timestamppb.New(r.CreateTime),
		UpdateTime: timestamppb.New(r.UpdateTime),
	}
}

// setFields copies the mutable fields of p into r.
func (r *petRow) setFields(p *petstorev1.Pet, paths []string) {
	for _, path := range paths {
		switch path {
		case "name":
			r.Name = p.GetName()
		case "species":
			r.Species = int32(p.GetSpecies())
		case "age_years":
			r.AgeYears = p.GetAgeYears()
		case "tags":
			r.Tags = append([]string{}, p.GetTags()...)
		case "status":
			r.Status = int32(p.GetStatus())
		}
	}
}

// mutablePaths are the update_mask paths a client may change, in proto
// field order.
var mutablePaths = []string{"name", "species", "age_years", "tags", "status"}

func newPetRow(p *petstorev1.Pet, now time.Time) *petRow {
	r := &petRow{CreateTime: now, UpdateTime: now}
	r.setFields(p, mutablePaths)
	return r
}
