package dynamic

import (
	"encoding/base64"
	"encoding/json"
	"errors"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/protobuf/encoding/protojson"

	// The google.rpc detail types (ErrorInfo, BadRequest, RetryInfo, …) are
	// linked in so their details decode without the server's descriptors.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
)

// Status is an RPC error as JSON.
type Status struct {
	Code    string            `json:"code"`
	Message string            `json:"message,omitempty"`
	Details []json.RawMessage `json:"details,omitempty"`
}

// StatusOf decodes err: its code, message and every detail as JSON (with
// "@type"), using the google.rpc types and any type src has loaded. A detail
// of an unknown type keeps its bytes, base64-encoded.
func StatusOf(err error, src Source) Status {
	st := Status{Code: connect.CodeOf(err).String()}
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		st.Message = err.Error()
		return st
	}
	st.Message = cerr.Message()
	opts := protojson.MarshalOptions{Resolver: newTypeResolver(src)}
	for _, d := range cerr.Details() {
		anyDetail := connectproto.ErrorDetailToAny(d)
		if data, err := opts.Marshal(anyDetail); err == nil {
			st.Details = append(st.Details, data)
			continue
		}
		data, _ := json.Marshal(map[string]string{
			"@type": anyDetail.GetTypeUrl(),
			"value": base64.StdEncoding.EncodeToString(anyDetail.GetValue()),
		})
		st.Details = append(st.Details, data)
	}
	return st
}
