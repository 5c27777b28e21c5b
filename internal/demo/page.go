package demo

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
)

// The page's files, and the official socket.io-client browser bundle, which the build copies from npm into
// web/static/vendor/ (git-ignored):
//
//	cd internal/demo/web && npm ci && mkdir -p static/vendor && cp node_modules/socket.io-client/dist/socket.io.min.js static/vendor/
//
// (`make build` does it; so does `go generate ./internal/demo`). A binary built without it still serves the page,
// which then says that the bundle is missing, and /socket.io.min.js answers 404 with the command to run.
//
//go:generate sh -c "cd web && npm ci --no-audit --no-fund && mkdir -p static/vendor && cp node_modules/socket.io-client/dist/socket.io.min.js static/vendor/"
//go:embed web/static
var static embed.FS

const bundlePath = "web/static/vendor/socket.io.min.js"

// ClientBundle returns the embedded socket.io-client browser bundle, or false when the build did not embed it.
func ClientBundle() ([]byte, bool) {
	b, err := static.ReadFile(bundlePath)
	return b, err == nil && len(b) > 0
}

// asset is a file served with an ETag, and gzip-compressed when the client accepts it.
type asset struct {
	contentType string
	body, gz    []byte
	etag        string
}

func newAsset(contentType string, body []byte) *asset {
	sum := sha256.Sum256(body)
	a := &asset{contentType: contentType, body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	if len(body) > 1024 {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if b.Len() < len(body) {
			a.gz = b.Bytes()
		}
	}
	return a
}

func (a *asset) serve(w http.ResponseWriter, r *http.Request, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	if a.gz != nil {
		h.Set("Vary", "Accept-Encoding")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	_, _ = w.Write(body)
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				q, err := strconv.ParseFloat(v, 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}

// Page returns the handler of the demo page: "/" (the page), "/app.js", "/style.css", and the client bundle at
// "/socket.io.min.js" and at ioPath+"socket.io.min.js" (where Node's serveClient puts it; the engine routes
// that path to the Socket.IO endpoint while ioPath is its path, so the page loads the first). ioPath is the
// Socket.IO endpoint path, given to the page's client. Other paths get 404.
func Page(ioPath string) (http.Handler, error) {
	sub, err := fs.Sub(static, "web/static")
	if err != nil {
		return nil, err
	}
	read := func(name string) []byte {
		b, _ := fs.ReadFile(sub, name)
		return b
	}
	tmpl, err := template.New("index").Parse(string(read("index.html")))
	if err != nil {
		return nil, err
	}
	var page bytes.Buffer
	if err := tmpl.Execute(&page, struct{ Path string }{ioPath}); err != nil {
		return nil, err
	}
	index := newAsset("text/html; charset=utf-8", page.Bytes())
	files := map[string]*asset{
		"/app.js":    newAsset("text/javascript; charset=utf-8", read("app.js")),
		"/style.css": newAsset("text/css; charset=utf-8", read("style.css")),
	}
	var bundle *asset
	if b, ok := ClientBundle(); ok {
		bundle = newAsset("application/javascript; charset=utf-8", b)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		switch p := r.URL.Path; {
		case p == "/" || p == "/index.html":
			w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
			w.Header().Set("Referrer-Policy", "no-referrer")
			index.serve(w, r, "no-cache")
		case p == "/socket.io.min.js" || p == ioPath+"socket.io.min.js":
			if bundle == nil {
				http.Error(w, "the socket.io client bundle is not embedded in this build: run `make build` (npm ci in internal/demo/web)", http.StatusNotFound)
				return
			}
			bundle.serve(w, r, "public, max-age=3600")
		case files[p] != nil:
			files[p].serve(w, r, "no-cache")
		default:
			http.NotFound(w, r)
		}
	}), nil
}
