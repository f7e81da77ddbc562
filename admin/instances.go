package admin

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
	"github.com/switchboardkit/switchboard/store"
)

func (a *Service) ListInstances(ctx context.Context, _ *adminv1.ListInstancesRequest) (*adminv1.ListInstancesResponse, error) {
	rows, err := store.ListInstances(ctx, a.cfg.DB)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	res := &adminv1.ListInstancesResponse{}
	for _, r := range rows {
		res.Instances = append(res.Instances, &adminv1.Instance{
			Id: r.ID, Host: r.Host, Address: r.Address, Version: r.Version,
			StartTime: timestamppb.New(r.StartedAt), LastSeenTime: timestamppb.New(r.LastSeenAt),
			InFlight: r.InFlight, Up: r.Up(now),
		})
	}
	return res, nil
}
