package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboardkit/switchboard"
	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/validate"
)

func keyProto(k *store.APIKey, now time.Time) *adminv1.ApiKey {
	out := &adminv1.ApiKey{Id: k.ID, Name: k.Name, Scopes: k.Scopes, CreateTime: timestamppb.New(k.CreatedAt), Status: "active"}
	if !k.ExpiresAt.IsZero() {
		out.ExpireTime = timestamppb.New(k.ExpiresAt)
		if !now.Before(k.ExpiresAt) {
			out.Status = "expired"
		}
	}
	if !k.RevokedAt.IsZero() {
		out.RevokeTime, out.Status = timestamppb.New(k.RevokedAt), "revoked"
	}
	if !k.LastUsedAt.IsZero() {
		out.LastUsedTime = timestamppb.New(k.LastUsedAt)
	}
	return out
}

func (a *Service) ListApiKeys(ctx context.Context, _ *adminv1.ListApiKeysRequest) (*adminv1.ListApiKeysResponse, error) {
	keys, err := store.ListAPIKeys(ctx, a.cfg.DB)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	res := &adminv1.ListApiKeysResponse{}
	for _, k := range keys {
		res.Keys = append(res.Keys, keyProto(k, now))
	}
	return res, nil
}

func (a *Service) CreateApiKey(ctx context.Context, req *adminv1.CreateApiKeyRequest) (*adminv1.CreateApiKeyResponse, error) {
	if a.cfg.Keys == nil {
		return nil, errNoKeys
	}
	var verr validate.Error
	if strings.TrimSpace(req.GetName()) == "" || len(req.GetName()) > 100 {
		verr.Violations = append(verr.Violations, validate.Violation{Field: "name", Rule: "required", Description: "must be 1 to 100 characters"})
	}
	if len(req.GetScopes()) == 0 {
		verr.Violations = append(verr.Violations, validate.Violation{Field: "scopes", Rule: "required", Description: "at least one scope"})
	}
	for i, scope := range req.GetScopes() {
		if err := switchboard.ValidateScope(scope); err != nil {
			verr.Violations = append(verr.Violations, validate.Violation{Field: fmt.Sprintf("scopes[%d]", i), Rule: "scope", Description: err.Error()})
		}
	}
	if req.GetTtl().AsDuration() < 0 {
		verr.Violations = append(verr.Violations, validate.Violation{Field: "ttl", Rule: "gte", Description: "must not be negative"})
	}
	if len(verr.Violations) > 0 {
		return nil, &verr
	}
	// A key grants only what its creator holds: no minting of "*" or "admin"
	// from a narrower key.
	caller := switchboard.PrincipalFromContext(ctx)
	for _, scope := range req.GetScopes() {
		if !caller.Covers(scope) {
			return nil, &scopeNotHeldError{scope: scope}
		}
	}
	ttl, err := a.boundedTTL(ctx, caller, req.GetTtl().AsDuration())
	if err != nil {
		return nil, err
	}
	secret, key, err := a.cfg.Keys.Create(ctx, req.GetName(), req.GetScopes(), ttl)
	if err != nil {
		return nil, err
	}
	return &adminv1.CreateApiKeyResponse{Key: keyProto(key, time.Now()), Secret: secret}, nil
}

func (a *Service) RevokeApiKey(ctx context.Context, req *adminv1.RevokeApiKeyRequest) (*adminv1.RevokeApiKeyResponse, error) {
	if a.cfg.Keys == nil {
		return nil, errNoKeys
	}
	if err := a.cfg.Keys.Revoke(ctx, req.GetId()); err != nil {
		if errors.Is(err, store.ErrKeyNotFound) {
			return nil, connect.Errorf(connect.CodeNotFound, "no API key with id %q", req.GetId())
		}
		return nil, err
	}
	key, err := store.FindAPIKey(ctx, a.cfg.DB, req.GetId())
	if err != nil {
		return nil, err
	}
	return &adminv1.RevokeApiKeyResponse{Key: keyProto(key, time.Now())}, nil
}

// boundedTTL keeps a new key from outliving the key that creates it: with
// an expiring creator, no ttl (never expires) or a longer one becomes the
// creator's remaining lifetime. A caller that is no stored key (a client
// certificate) is not bound by it.
func (a *Service) boundedTTL(ctx context.Context, caller *switchboard.Principal, ttl time.Duration) (time.Duration, error) {
	if caller == nil {
		return ttl, nil
	}
	creator, err := store.FindAPIKey(ctx, a.cfg.DB, caller.KeyID)
	if errors.Is(err, store.ErrKeyNotFound) {
		return ttl, nil
	}
	if err != nil {
		return 0, err
	}
	if creator.ExpiresAt.IsZero() {
		return ttl, nil
	}
	left := time.Until(creator.ExpiresAt)
	if left <= 0 {
		return 0, fmt.Errorf("the creating key has expired: %w", switchboard.ErrPermissionDenied)
	}
	if ttl == 0 || ttl > left {
		return left, nil
	}
	return ttl, nil
}

var errNoKeys = connect.Errorf(connect.CodeUnimplemented, "this server manages no API keys")

// ReasonScopeNotHeld is the ErrorInfo reason of a CreateApiKey call that asks
// for a scope its caller does not hold.
const ReasonScopeNotHeld = "SCOPE_NOT_HELD"

type scopeNotHeldError struct{ scope string }

func (e *scopeNotHeldError) Error() string { return "scope not held: " + e.scope }

func (e *scopeNotHeldError) RPCStatus() (connect.Code, string, string) {
	return connect.CodePermissionDenied, ReasonScopeNotHeld,
		fmt.Sprintf("a key can only grant scopes its creator holds; %q is not among the caller's scopes", e.scope)
}
