// Package browsertest drives headless Chromium (Debian's package) with
// chromedp for tests of pages the kit serves. Without a browser it skips the
// test locally and fails it under CI=true, where .ci/run installs Chromium.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Step is one browser action without a result.
type Step = chromedp.Action[chromedp.Void]

// Start launches a fresh headless Chromium for the test and returns its
// context; it closes when the test ends (90 s at most).
func Start(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Chromium installed: browser tests must run in CI (.ci/run installs Debian's chromium)")
		}
		t.Skip("no Chromium installed; skipping browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
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

// Until polls a JavaScript condition in the page for up to 15 s.
func Until(js string) Step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := chromedp.Poll[bool](js, chromedp.WithPollingTimeout(15*time.Second))(ctx, t); err != nil {
			return fmt.Errorf("waiting for %s: %w", js, err)
		}
		return nil
	})
}

// Eval runs JavaScript in the page for its effect.
func Eval(js string) Step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](js)(ctx, t)
		return err
	})
}

// Click clicks the element with this id.
func Click(id string) Step { return chromedp.Click(chromedp.ID(id)) }

// Fill sets an input's value.
func Fill(id, value string) Step {
	return Eval(fmt.Sprintf(`document.getElementById(%q).value = %q`, id, value))
}

// Choose sets a select's value and fires its change event.
func Choose(id, value string) Step {
	return Eval(fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q;
		s.dispatchEvent(new Event("change")); })()`, id, value))
}

// Text waits until the element matching selector contains want.
func Text(selector, want string) Step {
	return Until(fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").includes(%q)`, selector, want))
}

// Screenshot saves the page as name.png under $SWITCHBOARD_SCREENSHOTS, when
// that is set (docs are illustrated this way); otherwise it does nothing.
func Screenshot(name string) Step {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		dir := os.Getenv("SWITCHBOARD_SCREENSHOTS")
		if dir == "" {
			return nil
		}
		png, err := chromedp.FullScreenshot(100)(ctx, t) // quality 100: PNG
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}
