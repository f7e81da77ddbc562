// Package limit is the limiting interceptor, right after auth (so an
// unauthenticated flood is turned away before it takes a slot, and the
// caller is known) and before error mapping. It caps calls in flight, over
// the whole server and per method, answering RESOURCE_EXHAUSTED at once or
// after a short bounded wait; it caps open streams (client, server and bidi
// calls) over the server, per method and for anonymous callers, refusing at
// once; and it gives calls whose client set no deadline a per-method
// default one. It puts the deadline on the context, nothing else.
//
// Every cap is per process: N replicas admit N times as much.
package limit
