// Package validate checks request messages with go-playground/validator and
// reports failures as field violations with proto field paths, ready to
// become a google.rpc.BadRequest.
//
// Generated protobuf structs carry no struct tags, so rules are registered per
// message type (Engine.Rules, backed by validator's
// RegisterStructValidationMapRules); a message may instead, or also,
// implement Validate() error. Domain structs with `validate` tags go through
// the same engine. Field paths use proto names — "pet.name",
// "pets[2].tags[0]" — never Go names.
//
// It must not know about transports or status codes beyond producing
// *Error: mapping that to INVALID_ARGUMENT is the error interceptor's job.
package validate
