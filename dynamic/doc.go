// Package dynamic calls any RPC service without its generated code: it finds
// the schema through gRPC server reflection (v1, falling back to v1alpha), a
// protoset file or .proto sources, builds messages from JSON, and invokes any
// method in any call shape over gRPC, gRPC-Web or the Connect protocol, with
// the connect-go v2 client over dynamicpb messages. It works against any
// server, not only Switchboard's.
//
// What it is for: the switchboard CLI (list, describe, template, call), and
// tools and UIs that need the same — Invoke reports headers, each message
// and trailers as events.
//
// What it must not do: know about the kit's server side, or hide errors:
// failures say whether reflection is missing, refused or unreachable, and RPC
// errors come back with their code, message and decoded details.
package dynamic
