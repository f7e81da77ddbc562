// Package web serves the pet store's browser page: index.html, style.css and
// the esbuild bundle dist/app.js, embedded in the binary so the example needs
// no Node at run time. The bundle is committed; CI rebuilds it (npm ci, buf
// generate with buf.gen.web.yaml, npm run build) and fails when it is stale.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed index.html style.css dist/app.js
var files embed.FS

// Handler serves the page at "/" ("/app.js" is the bundle).
func Handler() http.Handler {
	sub := http.FS(withBundle{files})
	return http.FileServer(sub)
}

// withBundle serves dist/app.js as /app.js.
type withBundle struct{ embed.FS }

func (w withBundle) Open(name string) (fs.File, error) {
	if name == "app.js" {
		name = "dist/app.js"
	}
	return w.FS.Open(name)
}
