package kit

import (
	"net/http"
	"slices"

	connectcors "connectrpc.com/cors"
	"github.com/rs/cors"
)

// corsHandler wraps h with CORS for the configured origins, through rs/cors.
// Allowed and exposed headers are what the Connect, gRPC-Web and gRPC
// protocols need (connectrpc.com/cors) plus the kit's own: the API key header,
// Authorization and X-Request-Id; and with REST routes on, their methods
// (PUT, PATCH, DELETE) and X-Server-Timeout. Origins not configured get no CORS headers
// at all, so browsers refuse to share the response. With no origins
// configured, CORS is off and h is returned as it is.
func (s *Server) corsHandler(h http.Handler) http.Handler {
	if len(s.cfg.CORSAllowedOrigins) == 0 {
		return h
	}
	allowed := append(connectcors.AllowedHeaders(), "Authorization", "X-Request-Id")
	if s.cfg.APIKeys.Header != "" {
		allowed = append(allowed, s.cfg.APIKeys.Header)
	}
	exposed := append(connectcors.ExposedHeaders(), "X-Request-Id")
	methods := connectcors.AllowedMethods()
	if s.cfg.REST {
		// REST routes use every verb google.api.http has, and take a
		// deadline in X-Server-Timeout (docs/rest.md).
		methods = append(methods, http.MethodPut, http.MethodPatch, http.MethodDelete)
		allowed = append(allowed, "X-Server-Timeout")
	}
	return cors.New(cors.Options{
		AllowedOrigins:   slices.Clone(s.cfg.CORSAllowedOrigins),
		AllowedMethods:   methods,
		AllowedHeaders:   allowed,
		ExposedHeaders:   exposed,
		AllowCredentials: s.cfg.CORSAllowCredentials,
		MaxAge:           int(s.cfg.CORSMaxAge.Seconds()),
	}).Handler(h)
}
