package apidocs

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"

	"go.yaml.in/yaml/v3"
)

//go:embed static
var static embed.FS

// Handler serves one OpenAPI document and the page that renders it.
type Handler struct {
	yaml, json []byte
	page       http.Handler
}

// New checks that spec (YAML or JSON) is an OpenAPI 3 document and returns
// its handler. A document that does not parse stops the server at start.
func New(spec []byte) (*Handler, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(spec, &doc); err != nil { // YAML is a superset of JSON
		return nil, fmt.Errorf("apidocs: the OpenAPI document does not parse: %w", err)
	}
	if v, _ := doc["openapi"].(string); len(v) < 2 || v[:2] != "3." {
		return nil, errors.New(`apidocs: not an OpenAPI 3 document (no "openapi: 3.x")`)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("apidocs: the OpenAPI document as JSON: %w", err)
	}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	return &Handler{yaml: spec, json: js, page: http.FileServer(http.FS(sub))}, nil
}

// Mount serves the document at /openapi.yaml and /openapi.json and the page
// at /docs/ on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /openapi.yaml", h.serve(h.yaml, "application/yaml"))
	mux.HandleFunc("GET /openapi.json", h.serve(h.json, "application/json"))
	mux.Handle("GET /docs", http.RedirectHandler("/docs/", http.StatusMovedPermanently))
	mux.Handle("GET /docs/", http.StripPrefix("/docs/", http.HandlerFunc(h.servePage)))
}

func (h *Handler) serve(body []byte, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(body)
	}
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	// Swagger UI sets style attributes from script, hence 'unsafe-inline'
	// for styles only; scripts come from this page's own files.
	w.Header().Set("Content-Security-Policy",
		"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	h.page.ServeHTTP(w, r)
}
