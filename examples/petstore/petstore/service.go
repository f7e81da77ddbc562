package petstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"connectrpc.com/connect/v2"
	"github.com/uptrace/bun"

	"github.com/switchboardkit/switchboard/cluster"
	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/gen/petstore/v1/petstorev1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/validate"
)

const (
	defaultPageSize = 50
	maxPageSize     = 100
	// maxImport bounds one ImportPets stream, so a client cannot hold an
	// ever-growing transaction open.
	maxImport = 10_000
)

// Service implements petstorev1connect.PetStoreServiceHandler.
type Service struct {
	db       *bun.DB // writes and transactions
	reader   *bun.DB // queries: on SQLite they never wait behind writers
	validate *validate.Engine
	bus      cluster.Bus
	hub      *hub
	now      func() time.Time
}

var _ petstorev1connect.PetStoreServiceHandler = (*Service)(nil)

// New returns the pet store on db, whose schema Migrations has applied,
// reading through reader (the kit's srv.DB() and srv.ReadDB(); they may be
// the same handle). Its validation rules are in petstore.proto, beside each
// field ((switchboard.v1.rules)); the kit's validation interceptor checks
// every request with them, and UpdatePet checks the masked fields with
// engine (the kit's, srv.Validator()). Changes reach WatchPets streams on
// every replica through bus (the kit's, srv.Cluster()).
func New(db, reader *bun.DB, engine *validate.Engine, bus cluster.Bus) *Service {
	s := &Service{db: db, reader: reader, validate: engine, bus: bus, hub: newHub(), now: time.Now}
	s.listen()
	return s
}

// CreatePet stores a new pet. The id and timestamps in the request are
// ignored: the server assigns them.
func (s *Service) CreatePet(ctx context.Context, req *petstorev1.CreatePetRequest) (*petstorev1.CreatePetResponse, error) {
	row := newPetRow(req.GetPet(), s.timestamp())
	if _, err := s.db.NewInsert().Model(row).Returning("id").Exec(ctx); err != nil {
		return nil, fmt.Errorf("petstore: insert pet: %w", err)
	}
	pet := row.proto()
	s.announce(ctx, petstorev1.EventType_EVENT_TYPE_CREATED, pet)
	return &petstorev1.CreatePetResponse{Pet: pet}, nil
}

// GetPet returns one pet by id.
func (s *Service) GetPet(ctx context.Context, req *petstorev1.GetPetRequest) (*petstorev1.GetPetResponse, error) {
	row, err := s.find(ctx, s.reader, req.GetId(), false)
	if err != nil {
		return nil, err
	}
	return &petstorev1.GetPetResponse{Pet: row.proto()}, nil
}

// ListPets returns one page of pets in id order.
func (s *Service) ListPets(ctx context.Context, req *petstorev1.ListPetsRequest) (*petstorev1.ListPetsResponse, error) {
	token, ok := decodePageToken(req.GetPageToken(), req)
	if !ok {
		return nil, validate.Fieldf("page_token", "invalid", "was not issued for this query")
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultPageSize
	}
	var rows []*petRow
	q := s.reader.NewSelect().Model(&rows).Where("id > ?", token.AfterID).OrderExpr("id ASC").Limit(int64(size) + 1)
	if sp := req.GetSpecies(); sp != petstorev1.Species_SPECIES_UNSPECIFIED {
		q = q.Where("species = ?", int32(sp))
	}
	if st := req.GetStatus(); st != petstorev1.PetStatus_PET_STATUS_UNSPECIFIED {
		q = q.Where("status = ?", int32(st))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("petstore: list pets: %w", err)
	}
	res := &petstorev1.ListPetsResponse{}
	if len(rows) > size {
		rows = rows[:size]
		res.NextPageToken = pageToken{
			AfterID: rows[size-1].ID,
			Species: int32(req.GetSpecies()),
			Status:  int32(req.GetStatus()),
		}.encode()
	}
	for _, r := range rows {
		res.Pets = append(res.Pets, r.proto())
	}
	return res, nil
}

// UpdatePet changes the fields of pet named by update_mask; an empty mask
// means every mutable field.
func (s *Service) UpdatePet(ctx context.Context, req *petstorev1.UpdatePetRequest) (*petstorev1.UpdatePetResponse, error) {
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		paths = mutablePaths
	}
	if req.GetPet().GetId() <= 0 {
		return nil, validate.Fieldf("pet.id", "required", "must name the pet to update")
	}
	for _, p := range paths {
		if !slices.Contains(mutablePaths, p) {
			return nil, validate.Fieldf("update_mask", "invalid", "%q is not a mutable field (use %v)", p, mutablePaths)
		}
	}
	if err := s.validate.ValidateFields(req.GetPet(), paths...); err != nil {
		var verr *validate.Error
		if errors.As(err, &verr) {
			return nil, verr.Prefix("pet")
		}
		return nil, err
	}
	var updated *petRow
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.find(ctx, tx, req.GetPet().GetId(), true)
		if err != nil {
			return err
		}
		row.setFields(req.GetPet(), paths)
		row.UpdateTime = s.timestamp()
		if _, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("petstore: update pet: %w", err)
		}
		updated = row
		return nil
	})
	if err != nil {
		return nil, err
	}
	pet := updated.proto()
	s.announce(ctx, petstorev1.EventType_EVENT_TYPE_UPDATED, pet)
	return &petstorev1.UpdatePetResponse{Pet: pet}, nil
}

// DeletePet removes one pet by id.
func (s *Service) DeletePet(ctx context.Context, req *petstorev1.DeletePetRequest) (*petstorev1.DeletePetResponse, error) {
	var deleted *petRow
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.find(ctx, tx, req.GetId(), true)
		if err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model(row).WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("petstore: delete pet: %w", err)
		}
		deleted = row
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.announce(ctx, petstorev1.EventType_EVENT_TYPE_DELETED, deleted.proto())
	return &petstorev1.DeletePetResponse{}, nil
}

// WatchPets streams every change committed by any replica from the moment
// the call starts. It ends after max_events events (when positive), when the
// client goes away, or cleanly when the server shuts down.
func (s *Service) WatchPets(ctx context.Context, req *petstorev1.WatchPetsRequest, stream petstorev1connect.PetStoreServiceWatchPetsServerStream) error {
	w, stop := s.hub.watch(req.GetSpecies())
	defer stop()
	// Flush headers now: a client that has them knows the watch is live.
	if err := stream.SendHeaders(); err != nil {
		return err
	}
	drain := kit.ShuttingDown(ctx)
	for sent := int32(0); req.GetMaxEvents() == 0 || sent < req.GetMaxEvents(); {
		events, err := w.next(ctx, drain)
		switch {
		case errors.Is(err, errFellBehind):
			return connect.Errorf(connect.CodeResourceExhausted,
				"watcher fell more than %d events behind; reconnect and re-list", watchRing)
		case errors.Is(err, errMissed):
			return connect.Errorf(connect.CodeUnavailable,
				"events may have been missed between replicas; reconnect and re-list")
		case err != nil:
			return err
		case events == nil: // the server is shutting down
			return nil
		}
		for _, ev := range events {
			if err := stream.Send(ev); err != nil {
				return err
			}
			if sent++; sent == req.GetMaxEvents() {
				break
			}
		}
	}
	return nil
}

// ImportPets creates every pet of the stream in one transaction: if any pet
// is invalid or the insert fails, none is created.
func (s *Service) ImportPets(ctx context.Context, stream petstorev1connect.PetStoreServiceImportPetsServerStream) (*petstorev1.ImportPetsResponse, error) {
	now := s.timestamp()
	var rows []*petRow
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rows) == maxImport {
			return nil, connect.Errorf(connect.CodeResourceExhausted, "at most %d pets per import", maxImport)
		}
		rows = append(rows, newPetRow(req.GetPet(), now)) // each message was validated on Receive
	}
	res := &petstorev1.ImportPetsResponse{}
	if len(rows) == 0 {
		return res, nil
	}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(&rows).Returning("id").Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("petstore: import pets: %w", err)
	}
	pets := make([]*petstorev1.Pet, len(rows))
	for i, r := range rows {
		pets[i] = r.proto()
		res.Ids = append(res.Ids, r.ID)
	}
	res.Created = int32(len(rows))
	s.announce(ctx, petstorev1.EventType_EVENT_TYPE_CREATED, pets...)
	return res, nil
}

// find loads one pet; forUpdate locks the row on PostgreSQL (SQLite
// transactions already hold the write lock from BEGIN).
func (s *Service) find(ctx context.Context, db bun.IDB, id int64, forUpdate bool) (*petRow, error) {
	row := new(petRow)
	q := db.NewSelect().Model(row).Where("id = ?", id)
	if forUpdate && store.DialectOf(db) == store.Postgres {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, connect.Errorf(connect.CodeNotFound, "pet %d not found", id)
		}
		return nil, fmt.Errorf("petstore: load pet: %w", err)
	}
	return row, nil
}

// timestamp is now at the precision both dialects store (microseconds), so
// a pet read back equals the pet returned.
func (s *Service) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
