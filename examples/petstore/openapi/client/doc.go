// Package client is a Go client of the pet store generated from its
// OpenAPI document alone (../openapi.yaml) by oapi-codegen, a common
// generator pinned in the tools module — the proof that the document is
// enough to call the service without its protos or this repository's code.
// Regenerate after the document changes (CI checks it is fresh):
//
//	go tool -modfile=tools/go.mod oapi-codegen -generate types,client -package client \
//	  -o examples/petstore/openapi/client/client.gen.go examples/petstore/openapi/openapi.yaml
package client
