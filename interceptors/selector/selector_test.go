package selector_test

import (
	"context"
	"testing"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard/interceptors/selector"
)

// mark records which procedures an interceptor saw.
func mark(seen map[string]bool) connect.ServerInterceptor {
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			seen[spec.Procedure] = true
			return next(ctx, spec, stream)
		}
	}
}

func TestSelector_OnlyAndExceptChooseByProcedurePattern(t *testing.T) {
	procedures := []string{"/grpc.health.v1.Health/Check", "/petstore.v1.PetStoreService/ListPets", "/petstore.v1.PetStoreService/GetPet"}
	match := selector.Procedures("grpc.health.v1.Health/*", "*/ListPets")
	only, except := map[string]bool{}, map[string]bool{}
	reached := 0
	handler := func(context.Context, connect.Spec, connect.ServerStream) error { reached++; return nil }
	callOnly := selector.Only(match, mark(only))(handler)
	callExcept := selector.Except(match, mark(except))(handler)
	for _, p := range procedures {
		spec := connect.Spec{Procedure: p}
		_ = callOnly(t.Context(), spec, nil)
		_ = callExcept(t.Context(), spec, nil)
		_ = callOnly(t.Context(), spec, nil) // decided once per procedure, same answer
	}
	if reached != 3*len(procedures) {
		t.Errorf("handler reached %d times, want every call", reached)
	}
	for p, want := range map[string]bool{procedures[0]: true, procedures[1]: true, procedures[2]: false} {
		if only[p] != want || except[p] == want {
			t.Errorf("%s: Only saw it %v, Except saw it %v; want %v and %v", p, only[p], except[p], want, !want)
		}
	}
}
