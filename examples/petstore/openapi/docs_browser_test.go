package openapi_test

// The /docs/ page in a real browser (headless Chromium, as the pet store
// page's tests): it lists every operation of the document, and "Try it out"
// on ListPets calls the server and shows its pets.

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"github.com/chromedp/chromedp"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchboardkit/switchboard/examples/petstore/openapi"
	"github.com/switchboardkit/switchboard/examples/petstore/petstore"
	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/gen/petstore/v1/petstorev1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/kit/kittest/browsertest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// petStore runs the pet store with its OpenAPI document and two pets, and
// returns its URL and a key for its methods.
func petStore(t *testing.T) (url, key string) {
	t.Helper()
	cfg := kittest.Config(storetest.SQLiteDSN(t))
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Migrations = []kit.Migrations{{Name: "petstore", Set: petstore.Migrations()}}
	cfg.OpenAPI = openapi.YAML
	srv, err := kit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	petstorev1connect.RegisterPetStoreServiceHandler(srv.RPC(), petstore.New(srv.DB(), srv.ReadDB(), srv.Validator(), srv.Cluster()))
	key = kittest.APIKey(t, srv, "docs", "petstore.v1.PetStoreService/*")
	run := kittest.Start(t, srv)
	api := petstorev1connect.NewPetStoreServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(nil, key), run.URL)))
	for _, name := range []string{"Biscuit", "Pickle"} {
		if _, err := api.CreatePet(t.Context(), &petstorev1.CreatePetRequest{Pet: &petstorev1.Pet{
			Name: name, Species: petstorev1.Species_SPECIES_DOG, Status: petstorev1.PetStatus_PET_STATUS_AVAILABLE,
		}}); err != nil {
			t.Fatal(err)
		}
	}
	return run.URL, key
}

func TestDocsPage_ListsEveryOperationAndTriesListPets(t *testing.T) {
	ctx := browsertest.Start(t)
	url, _ := petStore(t)
	doc, err := openapi3.NewLoader().LoadFromData(openapi.YAML)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for path, item := range doc.Paths.Map() {
		for verb := range item.Operations() {
			want = append(want, strings.ToLower(verb)+" "+path)
		}
	}
	slices.Sort(want)

	listPets := `document.getElementById("operations-PetStoreService-PetStoreService_ListPets")`
	_, err = chromedp.Run(ctx, chromedp.Steps(
		chromedp.Navigate(url+"/docs/"),
		browsertest.Until(fmt.Sprintf(`document.querySelectorAll(".opblock").length === %d`, len(want))),
	))
	if err != nil {
		t.Fatal(err)
	}
	listed, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".opblock")].map(b =>
		b.querySelector(".opblock-summary-method").textContent.toLowerCase() + " " +
		b.querySelector(".opblock-summary-path").getAttribute("data-path")).sort()`))
	if err != nil {
		t.Fatal(err)
	}
	// Try it out: ListPets is public, so no key is needed.
	response := "#operations-PetStoreService-PetStoreService_ListPets .live-responses-table"
	_, err = chromedp.Run(ctx, chromedp.Steps(
		browsertest.Eval(listPets+`.querySelector(".opblock-summary-control").click()`),
		browsertest.Until(listPets+`.querySelector(".try-out__btn") !== null`),
		browsertest.Eval(listPets+`.querySelector(".try-out__btn").click()`),
		browsertest.Until(listPets+`.querySelector(".execute") !== null`),
		browsertest.Eval(listPets+`.querySelector(".execute").click()`),
		browsertest.Until(`[...`+listPets+`.querySelectorAll(".live-responses-table .response-col_status")].some(c => c.textContent.trim() === "200")`),
		browsertest.Text(response, "Biscuit"),
		browsertest.Text(response, "Pickle"),
		browsertest.Screenshot("docs-page"),
	))
	if err != nil {
		dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](listPets+`.innerText`))
		t.Fatalf("%v\nthe ListPets operation shows:\n%s", err, dump)
	}
	if !slices.Equal(listed, want) {
		t.Errorf("the page lists\n%v\nthe document has\n%v", listed, want)
	}
}
