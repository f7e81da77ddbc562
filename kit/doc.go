// Package kit serves Connect services to gRPC, gRPC-Web and Connect clients
// on one port.
//
// A Server wraps one *connect.Server, the registry of every method it serves:
// register services on it with their generated RegisterXHandler functions,
// then call Run. Around the registry the Server adds what every deployment
// needs and nobody should write twice:
//
//   - one listener for HTTP/1.1 and HTTP/2, cleartext (h2c) or TLS with ALPN;
//     TLS fails closed: a bad certificate is an error at start;
//   - gRPC server reflection (v1 and v1alpha) describing exactly the
//     registered services, and gRPC health checking whose statuses follow the
//     server's lifecycle;
//   - safe limits (message size, timeouts, concurrent streams) as config;
//   - the database, opened by DSN through bun with migrations applied at
//     start (package store);
//   - graceful shutdown: health turns NOT_SERVING, in-flight calls and
//     streams get a grace period (handlers see ShuttingDown), then the
//     listener and the database close.
//
// What it must not do: decide business rules, or grow a second registry of
// services. Everything that needs the list of methods reads
// (*connect.Server).Specs.
package kit
