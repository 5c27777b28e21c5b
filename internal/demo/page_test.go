package demo

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(t *testing.T, h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestPage(t *testing.T) {
	h, err := Page("/chat-io/")
	if err != nil {
		t.Fatal(err)
	}
	rec := serve(t, h, http.MethodGet, "/")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `<meta name="fastio-path" content="/chat-io/">`) {
		t.Fatalf("page: %d %s", rec.Code, rec.Body.String())
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	// the page's JavaScript is not inline, so the CSP needs no 'unsafe-inline'
	if strings.Contains(rec.Body.String(), "<script>") {
		t.Error("inline script in the page")
	}
	etag := rec.Header().Get("ETag")
	if rec := serve(t, h, http.MethodGet, "/", "If-None-Match", etag); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d", rec.Code)
	}
	if rec := serve(t, h, http.MethodPost, "/"); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d", rec.Code)
	}
	if rec := serve(t, h, http.MethodGet, "/app.js"); rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") ||
		!strings.Contains(rec.Body.String(), "watchCount") {
		t.Errorf("app.js: %d %v", rec.Code, rec.Header())
	}
	if rec := serve(t, h, http.MethodGet, "/style.css"); rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") {
		t.Errorf("style.css: %d", rec.Code)
	}
	for _, p := range []string{"/index.htm", "/vendor/socket.io.min.js", "/socket.io/socket.io.min.js.map", "/../demo.go"} {
		if rec := serve(t, h, http.MethodGet, p); rec.Code != 404 {
			t.Errorf("%s: %d", p, rec.Code)
		}
	}
}

func TestClientBundle(t *testing.T) {
	h, err := Page("/socket.io/")
	if err != nil {
		t.Fatal(err)
	}
	bundle, ok := ClientBundle()
	for _, p := range []string{"/socket.io.min.js", "/socket.io/socket.io.min.js"} {
		rec := serve(t, h, http.MethodGet, p)
		if !ok {
			if rec.Code != 404 || !strings.Contains(rec.Body.String(), "make build") {
				t.Errorf("%s without the bundle: %d %s", p, rec.Code, rec.Body.String())
			}
			continue
		}
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), bundle) || rec.Header().Get("Cache-Control") != "public, max-age=3600" {
			t.Errorf("%s: %d %v", p, rec.Code, rec.Header())
		}
		rec = serve(t, h, http.MethodGet, p, "Accept-Encoding", "br, gzip;q=0.8")
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: not compressed: %v", p, rec.Header())
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(zr)
		if !bytes.Equal(plain, bundle) {
			t.Errorf("%s: the gzip body differs", p)
		}
		if rec := serve(t, h, http.MethodGet, p, "Accept-Encoding", "gzip;q=0"); rec.Header().Get("Content-Encoding") != "" {
			t.Errorf("gzip;q=0 got gzip")
		}
	}
	if !ok {
		t.Log("the client bundle is not embedded in this build (run make build): checked the 404 only")
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip": true, "gzip;q=0": false, "gzip; q=0.5": true,
		"br": false, "gzip;q=0.0": false, "x-gzip": false,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("%q: %v", h, got)
		}
	}
}
