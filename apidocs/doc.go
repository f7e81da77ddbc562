// Package apidocs serves a service's OpenAPI contract and a page to read
// and try it, on the kit's port: /openapi.yaml and /openapi.json (the same
// document), and /docs/, an API reference with "Try it out" calling the
// same server.
//
// The document is built at build time, from the protos, by
// cmd/protoc-gen-switchboard-openapi, and handed to the kit as bytes
// (kit.Config.OpenAPI); this package only serves it. The page is Swagger UI
// (swagger-api/swagger-ui, the most used OpenAPI renderer, with a request
// console and API-key "Authorize"), vendored unchanged from npm's
// swagger-ui-dist and embedded: no CDN, nothing fetched from elsewhere, no
// validator badge. See static/README.md for its version.
//
// It must not change the document, generate it at run time, or add a
// route to the API: what the page lists is the document, and what "Try it
// out" calls goes through the server's pipeline like any other request.
package apidocs
