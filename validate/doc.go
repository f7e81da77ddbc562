// Package validate checks request messages with go-playground/validator and
// reports failures as field violations with proto field paths, ready to
// become a google.rpc.BadRequest.
//
// Generated protobuf structs carry no struct tags, so a message's rules live
// in its proto, beside each field, as the kit's field option
//
//	string name = 2 [(switchboard.v1.rules) = "required,max=64"];
//
// which the engine reads from the descriptor and hands to validator's
// RegisterStructValidationMapRules. Rules given in Go (Engine.Rules) add to
// them or replace one field's, and a message may also implement
// Validate() error for cross-field checks. Domain structs with `validate`
// tags go through the same engine. Field paths use proto names — "pet.name",
// "pets[2].tags[0]" — never Go names.
//
// JSONCodec is the one piece that meets the wire: connect's JSON codec, with
// enum names checked while decoding so an unknown one is a violation like
// any other rather than a bare decode error.
//
// It must not know about status codes beyond producing *Error: mapping that
// to INVALID_ARGUMENT is the error interceptor's job.
package validate
