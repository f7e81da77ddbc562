// Package petstore implements petstore.v1.PetStoreService, Switchboard's
// example: pets are bun models in the kit's database (SQLite or PostgreSQL),
// lists page with opaque keyset tokens, WatchPets streams this process's
// writes live, and ImportPets creates a whole stream of pets in one
// transaction.
//
// It shows how a service is written on the kit: plain handler methods on
// generated messages, errors authored as *connect.Error with details, and
// long-lived streams that end cleanly when the server shuts down
// (kit.ShuttingDown). It must not reach into the kit's internals: whatever it
// needs from the kit is public API.
package petstore
