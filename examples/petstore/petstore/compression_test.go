package petstore

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// Responses are gzipped for clients that accept it, but only from
// CompressMinBytes up: compressing tiny messages costs CPU and saves nothing.
func TestGzip_OnlyResponsesAboveTheThreshold(t *testing.T) {
	for _, tc := range []struct {
		name     string
		gzip     bool
		pets     int
		wantGzip bool
	}{
		{"small response", true, 1, false},
		{"large response", true, 40, true},
		{"gzip off", false, 40, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := start(t, storetest.SQLiteDSN(t), func(c *kit.Config) { c.Gzip = tc.gzip })
			api := env.clients(t)["connect-proto-h2"]
			for range tc.pets {
				if _, err := api.CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: dog(strings.Repeat("n", 40))}); err != nil {
					t.Fatal(err)
				}
			}
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost,
				env.run.URL+"/petstore.v1.PetStoreService/ListPets", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := http1Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tc.wantGzip || resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, Content-Encoding %q; want gzip=%v", resp.StatusCode, resp.Header.Get("Content-Encoding"), tc.wantGzip)
			}
		})
	}
}
