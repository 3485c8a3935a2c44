package liveview

import (
	"embed"
	"io/fs"
	"net/http"
)

// The page is plain HTML, CSS and JavaScript, embedded so the binary is all an operator
// needs: no build step, nothing fetched from a CDN.
//
//go:embed static
var staticFiles embed.FS

func staticFS() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

func staticHandler() http.Handler {
	return http.StripPrefix("/static/", http.FileServerFS(staticFS()))
}

func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	// The page is small and changes with the binary: no caching keeps an upgraded
	// ticketctl from serving yesterday's script to an open tab.
	w.Header().Set("Cache-Control", "no-store")
	http.ServeFileFS(w, r, staticFS(), "index.html")
}
