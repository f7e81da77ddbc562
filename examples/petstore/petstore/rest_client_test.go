package petstore

// The pet store as a REST user calls it: the google.api.http routes with
// plain HTTP/1.1 and JSON, as curl or a client generated from
// /openapi.yaml would, with errors read from the google.rpc.Status body.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"connectrpc.com/connect/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
)

type restClient struct{ base, key string }

func (c *restClient) CreatePet(ctx context.Context, req *petstorev1.CreatePetRequest) (*petstorev1.CreatePetResponse, error) {
	var body proto.Message // no body when there is no pet, not "{}"
	if req.GetPet() != nil {
		body = req.GetPet()
	}
	return restCall(ctx, c, http.MethodPost, "/v1/pets", nil, body, new(petstorev1.CreatePetResponse))
}

func (c *restClient) GetPet(ctx context.Context, req *petstorev1.GetPetRequest) (*petstorev1.GetPetResponse, error) {
	return restCall(ctx, c, http.MethodGet, "/v1/pets/"+strconv.FormatInt(req.GetId(), 10), nil, nil, new(petstorev1.GetPetResponse))
}

func (c *restClient) ListPets(ctx context.Context, req *petstorev1.ListPetsRequest) (*petstorev1.ListPetsResponse, error) {
	q := url.Values{}
	if req.GetPageSize() != 0 {
		q.Set("page_size", strconv.Itoa(int(req.GetPageSize())))
	}
	if req.GetPageToken() != "" {
		q.Set("page_token", req.GetPageToken())
	}
	if req.GetSpecies() != 0 {
		q.Set("species", enumParam(req.GetSpecies().String(), int32(req.GetSpecies())))
	}
	if req.GetStatus() != 0 {
		q.Set("status", enumParam(req.GetStatus().String(), int32(req.GetStatus())))
	}
	return restCall(ctx, c, http.MethodGet, "/v1/pets", q, nil, new(petstorev1.ListPetsResponse))
}

// enumParam is how a REST user names an enum value: by name, or by number
// for a value this client's proto does not name.
func enumParam(name string, number int32) string {
	if _, err := strconv.Atoi(name); err == nil {
		return strconv.Itoa(int(number))
	}
	return name
}

func (c *restClient) UpdatePet(ctx context.Context, req *petstorev1.UpdatePetRequest) (*petstorev1.UpdatePetResponse, error) {
	q := url.Values{}
	if paths := req.GetUpdateMask().GetPaths(); len(paths) > 0 {
		q.Set("update_mask", strings.Join(paths, ","))
	}
	pet := req.GetPet()
	if pet == nil {
		pet = &petstorev1.Pet{}
	}
	return restCall(ctx, c, http.MethodPatch, "/v1/pets/"+strconv.FormatInt(pet.GetId(), 10), q, pet, new(petstorev1.UpdatePetResponse))
}

func (c *restClient) DeletePet(ctx context.Context, req *petstorev1.DeletePetRequest) (*petstorev1.DeletePetResponse, error) {
	return restCall(ctx, c, http.MethodDelete, "/v1/pets/"+strconv.FormatInt(req.GetId(), 10), nil, nil, new(petstorev1.DeletePetResponse))
}

// restError is a failed REST call: the HTTP status and the
// google.rpc.Status body, its details decoded.
type restError struct {
	httpStatus int
	status     *status.Status
	details    []proto.Message
}

func (e *restError) Error() string {
	return fmt.Sprintf("HTTP %d: %s: %s", e.httpStatus, connect.Code(e.status.GetCode()), e.status.GetMessage())
}

// readRESTError reads a failed REST call's google.rpc.Status body, its
// details decoded.
func readRESTError(httpStatus int, body []byte) (*restError, error) {
	rerr := &restError{httpStatus: httpStatus, status: new(status.Status)}
	if err := protojson.Unmarshal(body, rerr.status); err != nil {
		return nil, fmt.Errorf("HTTP %d with a body that is not a google.rpc.Status: %.300q", httpStatus, body)
	}
	for _, d := range rerr.status.GetDetails() {
		msg, err := d.UnmarshalNew()
		if err != nil {
			return nil, fmt.Errorf("undecodable detail %s: %w", d.GetTypeUrl(), err)
		}
		rerr.details = append(rerr.details, msg)
	}
	return rerr, nil
}

// summary is what tests check of a REST error's details.
func (e *restError) summary() (reason, requestID string, fields []string, retry bool) {
	return summarize(e.details)
}

// summarize is what tests check of an error's decoded details, whatever
// the protocol: the ErrorInfo's reason and request id, the BadRequest's
// fields in order, and whether a RetryInfo came.
func summarize(details []proto.Message) (reason, requestID string, fields []string, retry bool) {
	for _, d := range details {
		switch m := d.(type) {
		case *errdetails.ErrorInfo:
			reason, requestID = m.GetReason(), m.GetMetadata()["request_id"]
		case *errdetails.BadRequest:
			for _, v := range m.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		case *errdetails.RetryInfo:
			retry = true
		}
	}
	return reason, requestID, fields, retry
}

func restCall[Res proto.Message](ctx context.Context, c *restClient, method, path string, query url.Values, body proto.Message, res Res) (Res, error) {
	var zero Res
	var data []byte
	if body != nil {
		var err error
		if data, err = protojson.Marshal(body); err != nil {
			return zero, err
		}
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	resp, data, err := send(ctx, method, target, data, bearer(c.key))
	if err != nil {
		return zero, err
	}
	if resp.StatusCode != http.StatusOK {
		rerr, err := readRESTError(resp.StatusCode, data)
		if err != nil {
			return zero, err
		}
		return zero, rerr
	}
	if err := protojson.Unmarshal(data, res); err != nil {
		return zero, fmt.Errorf("response %q: %w", data, err)
	}
	return res, nil
}

// restHTTPStatus is the HTTP status of each code on a REST route, as
// google.api.http transcoding defines it (google/rpc/code.proto).
var restHTTPStatus = map[connect.Code]int{
	connect.CodeCanceled:           499,
	connect.CodeUnknown:            http.StatusInternalServerError,
	connect.CodeInvalidArgument:    http.StatusBadRequest,
	connect.CodeDeadlineExceeded:   http.StatusGatewayTimeout,
	connect.CodeNotFound:           http.StatusNotFound,
	connect.CodeAlreadyExists:      http.StatusConflict,
	connect.CodePermissionDenied:   http.StatusForbidden,
	connect.CodeResourceExhausted:  http.StatusTooManyRequests,
	connect.CodeFailedPrecondition: http.StatusBadRequest,
	connect.CodeAborted:            http.StatusConflict,
	connect.CodeOutOfRange:         http.StatusBadRequest,
	connect.CodeUnimplemented:      http.StatusNotImplemented,
	connect.CodeInternal:           http.StatusInternalServerError,
	connect.CodeUnavailable:        http.StatusServiceUnavailable,
	connect.CodeDataLoss:           http.StatusInternalServerError,
	connect.CodeUnauthenticated:    http.StatusUnauthorized,
}
