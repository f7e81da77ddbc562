//go:build !unix

package store

// lockDir is a no-op where flock is not available: give each process a
// spill directory of its own.
func lockDir(string) (func(), error) { return func() {}, nil }
