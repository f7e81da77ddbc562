// Package rest serves the REST routes that services declare with
// google.api.http options (GET /v1/pets/{id}, POST /v1/pets with body "pet"…)
// on the kit's port, beside Connect, gRPC and gRPC-Web.
//
// A REST call is transcoded by connectrpc.com/vanguard — the Connect
// project's own transcoder, which works at the http.Handler level — into a
// Connect call (binary protobuf) of the method, sent to the same Connect
// handler every other protocol reaches. So it runs through the same
// interceptors (request id, request log, auth, limits, error mapping,
// validation) and a method is still written once. Errors come back as the
// HTTP status of their code and a google.rpc.Status JSON body with the
// same details. Vanguard imports connect-go v1 for its own types; that is
// a detail inside this package: nothing here hands v1 types to the kit.
//
// What it adds of its own:
//   - the routing in front: a request for a Connect procedure path goes
//     straight to the Connect handler, untouched and unparsed; a request on
//     a route (chosen as the transcoder chooses, route.go) goes to the
//     transcoder; anything else to the next handler;
//   - a check of the headers, path and query before the transcoder sees
//     the request (check.go, query.go, value.go): what cannot become
//     exactly the call the client asked for — a query parameter that is no
//     field or that would override the path or the body, a value the
//     transcoder would read otherwise, a body where none is taken, a
//     compressed or non-JSON body — is refused with a google.rpc.Status
//     (the transcoder alone lets the query override the path);
//   - a bound on the body as the transcoder reads it, during the call
//     (limitedBody), and a guard that fails the call when the transcoder
//     cannot read the body, instead of letting the handler run on the empty
//     request it would otherwise be handed;
//   - the route on the call's context for the request log (callctx.REST);
//   - a JSON codec for REST bodies that refuses an enum name the enum does
//     not define, as the Connect JSON codec does (validate.JSONCodec),
//     instead of dropping it.
//
// It must not decide anything about a call: no authentication, no
// validation, no error mapping of its own. A method without a
// google.api.http option has no REST route.
package rest
