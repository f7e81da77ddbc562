package petstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// Migrations is the pet store's schema, applied by kit.New from
// Config.Migrations (kit.Migrations{Name: "petstore", Set: Migrations()}). Each migration describes the
// table as it was at that step, never the current model, so old steps keep
// meaning the same thing as the model evolves.
func Migrations() *migrate.Migrations {
	m := migrate.NewMigrations()
	m.Add(migrate.Migration{
		Name:    "20261125000001",
		Comment: "create_pets",
		Up: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			return mg.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				type pet struct {
					bun.BaseModel `bun:"table:pets"`
					ID            int64     `bun:"id,pk,autoincrement"`
					Name          string    `bun:"name,notnull"`
					Species       int32     `bun:"species,notnull"`
					AgeYears      int32     `bun:"age_years,notnull"`
					Tags          []string  `bun:"tags,type:text,notnull"`
					Status        int32     `bun:"status,notnull"`
					CreateTime    time.Time `bun:"create_time,notnull"`
					UpdateTime    time.Time `bun:"update_time,notnull"`
				}
				if _, err := tx.NewCreateTable().Model((*pet)(nil)).Exec(ctx); err != nil {
					return err
				}
				for _, col := range []string{"species", "status"} {
					if _, err := tx.NewCreateIndex().Model((*pet)(nil)).
						Index("pets_"+col+"_id_idx").Column(col, "id").Exec(ctx); err != nil {
						return err
					}
				}
				return nil
			})
		},
		Down: func(ctx context.Context, mg *migrate.Migrator, _ *migrate.Migration) error {
			_, err := mg.DB().NewDropTable().Table("pets").IfExists().Exec(ctx)
			return err
		},
	})
	return m
}
