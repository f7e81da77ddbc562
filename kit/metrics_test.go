package kit_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	return string(body)
}

func TestMetrics_RPCSeriesQueueAndPreRegisteredMethods(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	for range 3 {
		if _, err := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, env.key); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{}, env.key)
	_, _ = env.postJSON(t, "/switchboardtest.v1.EchoService/NoSuchMethod", &switchboardtestv1.EchoRequest{}, env.key)

	var body string
	kittest.WaitFor(t, "four rows written", func() bool {
		body = scrape(t, env.run.URL)
		return strings.Contains(body, "switchboard_request_log_written_total 4")
	})
	for _, want := range []string{
		`switchboard_rpc_requests_total{code="ok",procedure="switchboardtest.v1.EchoService/Echo",protocol="connect"} 3`,
		`switchboard_rpc_requests_total{code="invalid_argument",procedure="switchboardtest.v1.EchoService/Echo",protocol="connect"} 1`,
		// Never called, still present: pre-registered from the registry.
		`switchboard_rpc_requests_total{code="ok",procedure="switchboardtest.v1.EchoService/Chat",protocol="grpc"} 0`,
		`switchboard_rpc_duration_seconds_count{procedure="switchboardtest.v1.EchoService/Echo",protocol="connect"} 4`,
		"switchboard_rpc_in_flight 0",
		"switchboard_request_log_queue_depth",
		"switchboard_request_log_dropped_total 0",
		"switchboard_request_log_written_total 4",
		"switchboard_request_log_write_seconds_count",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "NoSuchMethod") {
		t.Error("an unregistered procedure became a label value (unbounded cardinality)")
	}

	off := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) { c.Metrics = false })
	resp, err := http.Get(off.run.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("/metrics served with metrics off")
	}
}
