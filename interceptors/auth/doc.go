// Package auth is the auth interceptor, right after the request log. It
// decides from the request headers alone — before any payload is read or
// decoded — whether a call may proceed: it asks an Authenticator who the
// caller is, applies the method's access level (the (switchboard.v1.access)
// option, or config), checks scopes, and puts the Principal on the context
// (switchboard.PrincipalFromContext). A peer that keeps sending bad
// credentials gets RESOURCE_EXHAUSTED for each further bad one; its valid
// keys, anonymous calls and health checks are never refused for it.
//
// It also holds the two authenticators the kit ships: APIKeys (keys in the
// kit's database, which it also creates and revokes) and ClientCerts (TLS
// client certificates).
//
// What it must not do: read the request body, log or return a secret, or
// let a procedure pattern reach a method that names a scope of its own.
package auth
