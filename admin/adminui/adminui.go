// Package adminui is the admin page served by the kit at /admin/: plain
// HTML, CSS and one JavaScript module, embedded in the binary (no CDN, no
// build step, nothing fetched from the internet). It talks to the admin API
// (switchboard.admin.v1.AdminService) with Connect JSON over fetch, signed in
// with an admin API key kept in sessionStorage. Charts are inline SVG drawn
// by a few lines of the module: one bar chart does not justify vendoring a
// charting library.
package adminui

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the page; mount it under /admin/ with the prefix stripped.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}
