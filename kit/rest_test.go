package kit_test

import (
	"fmt"
	"net/http"
	"testing"

	"connectrpc.com/connect/v2"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
)

// restStatus is the HTTP status of each code on a REST route.
var restStatus = map[connect.Code]int{
	connect.CodeCanceled: 499, connect.CodeUnknown: 500, connect.CodeInvalidArgument: 400,
	connect.CodeDeadlineExceeded: 504, connect.CodeNotFound: 404, connect.CodeAlreadyExists: 409,
	connect.CodePermissionDenied: 403, connect.CodeResourceExhausted: 429, connect.CodeFailedPrecondition: 400,
	connect.CodeAborted: 409, connect.CodeOutOfRange: 400, connect.CodeUnimplemented: 501,
	connect.CodeInternal: 500, connect.CodeUnavailable: 503, connect.CodeDataLoss: 500,
	connect.CodeUnauthenticated: 401,
}

// postREST calls Echo on its REST route (POST /v1/echo, the request as the
// body): an answer must carry the text back; an error is read from its
// google.rpc.Status, checking that its HTTP status is the code's and that
// X-Request-Id names the same call.
func (e *echoEnv) postREST(t *testing.T, req *switchboardtestv1.EchoRequest) (callResult, error) {
	t.Helper()
	resp, data := e.post(t, "/v1/echo", marshalJSON(t, req), e.key)
	if resp.StatusCode == http.StatusOK {
		res := new(switchboardtestv1.EchoResponse)
		if err := protojson.Unmarshal(data, res); err != nil || res.GetText() != req.GetText() {
			t.Errorf("POST /v1/echo answered %s, want the text %q back (%v)", data, req.GetText(), err)
		}
		return callResult{}, nil
	}
	st := new(status.Status)
	if err := protojson.Unmarshal(data, st); err != nil {
		t.Fatalf("HTTP %d body is not a google.rpc.Status: %s", resp.StatusCode, data)
	}
	r := callResult{code: connect.Code(st.GetCode()), message: st.GetMessage()}
	if want := restStatus[r.code]; resp.StatusCode != want {
		t.Errorf("%s: HTTP %d, want %d", r.code, resp.StatusCode, want)
	}
	for _, d := range st.GetDetails() {
		msg, err := d.UnmarshalNew()
		if err != nil {
			t.Fatalf("undecodable detail %s: %v", d.GetTypeUrl(), err)
		}
		r.addDetail(msg)
	}
	if h := resp.Header.Get("X-Request-Id"); r.requestID != "" && h != r.requestID {
		t.Errorf("X-Request-Id %q differs from ErrorInfo request_id %q", h, r.requestID)
	}
	return r, fmt.Errorf("%s: %s", r.code, r.message)
}
