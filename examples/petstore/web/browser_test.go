package web_test

// The page in a real browser: headless Chromium (Debian's package, driven by
// chromedp) against the example on loopback — same origin, and from a second
// origin through CORS. Skips locally without Chromium; fails under CI=true.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboardkit/switchboard/examples/petstore/petstore"
	"github.com/switchboardkit/switchboard/examples/petstore/web"
	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	"github.com/switchboardkit/switchboard/gen/petstore/v1/petstorev1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/kit/store/storetest"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
)

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium installed: browser tests must run in CI (.ci/run installs Debian's chromium)")
	}
	t.Skip("no Chromium installed; skipping browser tests")
	return ""
}

// browser starts headless Chromium for the test and returns its context.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return bctx
}

// petstoreServer runs the example (service + page) and seeds pets.
func petstoreServer(t *testing.T, corsOrigins ...string) (url, key string) {
	t.Helper()
	cfg := kittest.Config(storetest.SQLiteDSN(t))
	cfg.CORSAllowedOrigins = corsOrigins
	srv, err := kit.New(cfg, kit.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		kit.WithMigrations("petstore", petstore.Migrations()))
	if err != nil {
		t.Fatal(err)
	}
	petstorev1connect.RegisterPetStoreServiceHandler(srv.RPC(), petstore.New(srv.DB(), srv.Validator()))
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

type step = chromedp.Action[chromedp.Void]

// until polls a JavaScript condition in the page.
func until(js string) step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := chromedp.Poll[bool](js, chromedp.WithPollingTimeout(15*time.Second))(ctx, t); err != nil {
			return fmt.Errorf("waiting for %s: %w", js, err)
		}
		return nil
	})
}

// eval runs JavaScript in the page for its effect.
func eval(js string) step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](js)(ctx, t)
		return err
	})
}

func click(id string) step { return chromedp.Click(chromedp.ID(id)) }

func rows(n int) step {
	return until(fmt.Sprintf(`document.querySelectorAll("#pets tbody tr").length === %d`, n))
}

func choose(id, value string) step {
	return eval(fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q;
		s.dispatchEvent(new Event("change")); return true })()`, id, value))
}

func fill(id, value string) step {
	return eval(fmt.Sprintf(`(() => { document.getElementById(%q).value = %q; return true })()`, id, value))
}

func text(selector, want string) step {
	return until(fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").includes(%q)`, selector, want))
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
	ctx := browser(t)
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
	ctx := browser(t)
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
