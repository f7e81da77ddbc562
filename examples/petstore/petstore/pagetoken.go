package petstore

import (
	"encoding/base64"
	"encoding/json"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
)

// pageToken is the decoded form of next_page_token. Pages are keyset pages in
// id order: a token names the last id served, so rows inserted meanwhile
// never shift or repeat a page. The filters are part of the token, so a token
// cannot be replayed against a different query.
type pageToken struct {
	AfterID int64 `json:"a"`
	Species int32 `json:"s,omitempty"`
	Status  int32 `json:"t,omitempty"`
}

func (t pageToken) encode() string {
	b, _ := json.Marshal(t) // a struct of ints always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodePageToken parses s; ok is false for anything this service did not
// issue for the same filters.
func decodePageToken(s string, req *petstorev1.ListPetsRequest) (pageToken, bool) {
	if s == "" {
		return pageToken{}, true
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageToken{}, false
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || t.AfterID < 0 {
		return pageToken{}, false
	}
	if t.Species != int32(req.GetSpecies()) || t.Status != int32(req.GetStatus()) {
		return pageToken{}, false
	}
	return t, true
}
