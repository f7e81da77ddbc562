// Package openapi holds the pet store's OpenAPI contract, generated from
// its protos by cmd/protoc-gen-switchboard-openapi (buf.gen.openapi.yaml)
// and checked fresh in CI: openapi.yaml and openapi.json, the same
// document.
package openapi

import _ "embed"

// YAML is openapi.yaml, for kit.Config.OpenAPI.
//
//go:embed openapi.yaml
var YAML []byte
