// Package conformance implements connectrpc.conformance.v1.ConformanceService
// for the official Connect conformance runner (connectrpc.com/conformance),
// so the suite can test the kit as users run it: the service is served by
// kit.New with its whole default pipeline on (request log, auth with the
// service public, limits, error mapping, validation). The server program is
// ./server; docs/conformance.md says how CI runs it.
//
// It does what the suite asks of a server under test and nothing else: echo
// what it received (headers, timeout, requests, GET query) and answer with
// the headers, trailers, data, delay or error each request defines. It is
// not an example of a service: it trusts its caller completely.
package conformance
