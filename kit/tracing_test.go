package kit_test

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func TestTracing_OneServerSpanPerCallInTheCallersTrace(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) { c.TracerProvider = tp })

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, req := range []*switchboardtestv1.EchoRequest{{Text: "ok"}, {Text: "x", Fail: "not_found"}} {
		body := `{"text":"` + req.GetText() + `","fail":"` + req.GetFail() + `"}`
		httpReq, _ := http.NewRequestWithContext(t.Context(), http.MethodPost,
			env.run.URL+switchboardtestv1connect.EchoServiceEchoProcedure, strings.NewReader(body))
		httpReq.Header.Set("Content-Type", "application/json")
		httpReq.Header.Set("Authorization", "Bearer "+env.key)
		httpReq.Header.Set("Traceparent", "00-"+traceID+"-"+parentID+"-01")
		resp, err := http.DefaultClient.Do(httpReq)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	ended := spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans, want 2", len(ended))
	}
	for i, s := range ended {
		attrs := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes() {
			attrs[kv.Key] = kv.Value
		}
		if s.Name() != "switchboardtest.v1.EchoService/Echo" || s.SpanKind() != trace.SpanKindServer ||
			s.SpanContext().TraceID().String() != traceID || s.Parent().SpanID().String() != parentID ||
			attrs["rpc.service"].AsString() != "switchboardtest.v1.EchoService" || attrs["rpc.method"].AsString() != "Echo" ||
			len(attrs["switchboard.request_id"].AsString()) != 32 {
			t.Errorf("span %d: %s kind %v trace %s parent %s attrs %v", i, s.Name(), s.SpanKind(),
				s.SpanContext().TraceID(), s.Parent().SpanID(), s.Attributes())
		}
	}
	if ended[0].Status().Code == codes.Error || ended[1].Status().Code != codes.Error ||
		ended[1].Status().Description != "not_found" {
		t.Errorf("statuses %v / %v", ended[0].Status(), ended[1].Status())
	}
}
