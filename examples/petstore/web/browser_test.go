package web_test

// The page in a real browser: headless Chromium (Debian's package, driven by
// chromedp) against the example on loopback — same origin, and from a second
// origin through CORS. Skips locally without Chromium; fails under CI=true.

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/switchboardkit/switchboard/examples/petstore/petstore"
	"github.com/switchboardkit/switchboard/examples/petstore/web"
	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/gen/petstore/v1/petstorev1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/kit/kittest/browsertest"
	"github.com/switchboardkit/switchboard/store/storetest"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
)

// petstoreServer runs the example (service + page) and seeds pets.
func petstoreServer(t *testing.T, corsOrigins ...string) (url, key string) {
	t.Helper()
	cfg := kittest.Config(storetest.SQLiteDSN(t))
	cfg.CORSAllowedOrigins = corsOrigins
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Migrations = []kit.Migrations{{Name: "petstore", Set: petstore.Migrations()}}
	srv, err := kit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	petstorev1connect.RegisterPetStoreServiceHandler(srv.RPC(), petstore.New(srv.DB(), srv.ReadDB(), srv.Validator(), srv.Cluster()))
	srv.Handle("/", web.Handler())
	key = kittest.APIKey(t, srv, "browser", "petstore.v1.PetStoreService/*")
	run := kittest.Start(t, srv)
	api := petstorev1connect.NewPetStoreServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(nil, key), run.URL)))
	for i, species := range []petstorev1.Species{1, 2, 1, 2, 1, 3} {
		_, err := api.CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: &petstorev1.Pet{
			Name: fmt.Sprintf("Seed %d", i+1), Species: species, Status: petstorev1.PetStatus_PET_STATUS_AVAILABLE,
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return run.URL, key
}

type step = browsertest.Step

var (
	until  = browsertest.Until
	click  = browsertest.Click
	fill   = browsertest.Fill
	choose = browsertest.Choose
	text   = browsertest.Text
)

func rows(n int) step {
	return until(fmt.Sprintf(`document.querySelectorAll("#pets tbody tr").length === %d`, n))
}

// createFlow: list and page, create with a key (and see it in the live
// feed), then a bad name shows its field error.
func createFlow(key, name string) step {
	return chromedp.Steps(
		text("#live", "live"),
		fill("key", key), fill("name", name), choose("species", "2"), fill("tags", "calm, small"),
		click("create-button"),
		text("#message", "Created "+name),
		text("#feed", "created "+name),
		// The key is still there: the second pet needs no retyping.
		until(fmt.Sprintf(`document.getElementById("key").value === %q`, key)),
		fill("name", ""), choose("species", "1"),
		click("create-button"),
		text(`[data-error-for="pet.name"]`, "must be set"),
		text("#message", "invalid_argument"),
	)
}

func TestBrowser_SameOrigin(t *testing.T) {
	ctx := browsertest.Start(t)
	url, key := petstoreServer(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/"),
		text("#transport-name", "gRPC-Web"),
		rows(5),
		click("next"), rows(1),
		click("prev"), rows(5),
		choose("species-filter", "2"), rows(2),
		choose("species-filter", "0"), rows(5),
		createFlow(key, "Browser Rex"),
		// The same page on the Connect transport.
		choose("transport", "connect"), text("#transport-name", "Connect"), rows(5),
		createFlow(key, "Connect Rex"),
	)
	if err != nil {
		t.Fatal(err)
	}
}

func TestBrowser_CrossOriginWithAndWithoutCORS(t *testing.T) {
	ctx := browsertest.Start(t)
	page := httptest.NewServer(web.Handler()) // a second origin serving the same page
	defer page.Close()

	apiURL, key := petstoreServer(t, page.URL)
	err := chromedp.Do(ctx,
		chromedp.Navigate(page.URL+"/?api="+apiURL),
		text("#api", apiURL),
		rows(5),
		createFlow(key, "Far Rex"),
		choose("transport", "connect"), rows(5),
		createFlow(key, "Far Connect Rex"),
	)
	if err != nil {
		t.Fatalf("with CORS: %v", err)
	}

	closedURL, _ := petstoreServer(t) // CORS off
	err = chromedp.Do(ctx,
		chromedp.Navigate(page.URL+"/?api="+closedURL),
		text("#message", "Could not list pets"),
	)
	if err != nil {
		t.Fatalf("without CORS: %v", err)
	}
	message, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("message")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(message, "Seed") {
		t.Errorf("the page read the API across origins with CORS off: %q", message)
	}
}
