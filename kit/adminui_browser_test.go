package kit_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit/kittest"
	bt "github.com/switchboardkit/switchboard/kit/kittest/browsertest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func tab(name string) bt.Step {
	return bt.Eval(`document.querySelector('nav button[data-tab="` + name + `"]').click()`)
}

// The admin page in headless Chromium: sign in, see the overview, watch a
// call appear in the live tail, open a failed call and read its field
// violations, create a key and revoke it. With SWITCHBOARD_SCREENSHOTS=dir
// it saves the screenshots docs/monitoring.md shows.
func TestAdminPage_InABrowser(t *testing.T) {
	ctx := bt.Start(t)
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	admin := kittest.APIKey(t, env.srv, "admin", "admin", "switchboardtest.v1.EchoService/*")
	plain := kittest.APIKey(t, env.srv, "plain", "switchboardtest.v1.EchoService/*")
	for range 5 {
		if _, err := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "warm up"}, env.key); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x", Fail: "not_found"}, env.key)
	if _, err := env.postREST(t, &switchboardtestv1.EchoRequest{Text: "over REST"}); err != nil { // shown with its route
		t.Fatal(err)
	}
	waitLogged(t, env, 7)
	failCall := chromedp.Func(func(context.Context, *chromedp.Target) error {
		_, _ = env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{}, env.key)
		return nil
	})

	err := chromedp.Do(ctx,
		chromedp.Navigate(env.run.URL+"/admin/"),
		bt.Fill("signin-key", plain), // a valid key, but not an admin one
		bt.Eval(`document.getElementById("signin-form").requestSubmit()`),
		bt.Text("#message", "lacks the admin scope"),
		bt.Fill("signin-key", admin),
		bt.Eval(`document.getElementById("signin-form").requestSubmit()`),
		bt.Until(`!document.getElementById("overview").hidden`),
		bt.Until(`Number(document.getElementById("ov-count").textContent) >= 7`),
		bt.Until(`document.querySelectorAll("#timeline rect.bar").length >= 1`),
		bt.Until(`document.querySelectorAll("#timeline rect.bar-err").length >= 1`),
		bt.Text("#instances tbody", "up"),
		bt.Screenshot("admin-overview"),

		tab("services"),
		bt.Text("#methods tbody", "switchboardtest.v1.EchoService/Chat"), // never called, still listed
		bt.Eval(`document.querySelector('th[data-sort="count"]').click()`),
		bt.Until(`document.querySelector("#methods tbody tr td")?.textContent === "switchboardtest.v1.EchoService/Echo"`),
		bt.Screenshot("admin-services"),

		tab("logs"),
		bt.Until(`document.querySelectorAll("#log-table tbody tr").length >= 7`),
		bt.Text("#log-table tbody", "switchboardtest.v1.EchoService/Echo (POST /v1/echo)"),
		bt.Eval(`document.getElementById("live-tail").click()`),
		chromedp.Sleep(300_000_000), // let the tail's stream open
		failCall,
		bt.Until(`document.querySelector("#log-table tbody tr td:nth-child(3)")?.textContent === "invalid_argument"`),
		bt.Eval(`document.querySelector("#log-table tbody tr").click()`),
		bt.Text("#log-detail", "google.rpc.BadRequest"),
		bt.Text("#log-detail ul.violations", "text: must be set"),
		bt.Screenshot("admin-logs"),

		tab("keys"),
		bt.Fill("key-name", "from the browser"),
		bt.Fill("key-scopes", "switchboardtest.v1.EchoService/Echo"),
		bt.Eval(`document.getElementById("key-form").requestSubmit()`),
		bt.Until(`document.getElementById("new-key-secret").textContent.startsWith("sb_")`),
		bt.Text("#key-table tbody", "from the browser"),
		bt.Screenshot("admin-keys"),
		bt.Eval(`window.confirm = () => true`),
		bt.Eval(`(() => { const id = document.getElementById("new-key-secret").textContent.split("_")[1];
			document.querySelector('#key-table tr[data-key-id="' + id + '"] button').click(); })()`),
		bt.Until(`(() => { const id = document.getElementById("new-key-secret").textContent.split("_")[1];
			return document.querySelector('#key-table tr[data-key-id="' + id + '"]')?.textContent.includes("revoked"); })()`),
	)
	if err != nil {
		t.Fatal(err)
	}
}
