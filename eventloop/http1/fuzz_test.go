package http1

import (
	"bytes"
	"testing"
	"unsafe"
)

// FuzzParse checks Parse's invariants on arbitrary input, under the default
// limits and under small ones that make the 431 paths reachable.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		pollingGET,
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"POST /engine.io/?EIO=4&transport=polling&sid=s HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
		"GET /p?a=1#f HTTP/1.1\r\nA: \t x \t\r\nB:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/2.0\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
		"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a",
		"\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}

	var r Request
	f.Fuzz(func(t *testing.T, buf []byte) {
		for _, lim := range []Limits{{}, {MaxHeaderBytes: 96, MaxHeaders: 3}} {
			checkParse(t, buf, &r, lim)
		}
	})
}

func checkParse(t *testing.T, buf []byte, r *Request, lim Limits) {
	t.Helper()
	n, err := Parse(buf, r, lim)
	lim = lim.withDefaults()
	window := buf[:min(len(buf), lim.MaxHeaderBytes)]
	end := bytes.Index(window, []byte("\r\n\r\n"))

	if err != nil {
		if n != 0 {
			t.Fatalf("n = %d with error %v", n, err)
		}
		switch {
		case err == ErrIncomplete:
			if end >= 0 || len(buf) >= lim.MaxHeaderBytes {
				t.Fatalf("ErrIncomplete but CRLFCRLF at %d, len %d, limit %d", end, len(buf), lim.MaxHeaderBytes)
			}
		case err == ErrHeaderTooLarge:
			if len(buf) < lim.MaxHeaderBytes {
				t.Fatalf("ErrHeaderTooLarge for %d bytes under limit %d", len(buf), lim.MaxHeaderBytes)
			}
		case StatusFor(err) == 500 || StatusFor(err) == 0:
			t.Fatalf("unexpected error %v", err)
		}
		return
	}

	// The head ends at the first CRLFCRLF: there is no other way for a
	// strictly CRLF-terminated head to end.
	if n != r.HeadLen || n > len(buf) || n > lim.MaxHeaderBytes || n != end+4 {
		t.Fatalf("n = %d, HeadLen = %d, len = %d, CRLFCRLF at %d", n, r.HeadLen, len(buf), end)
	}
	head := buf[:n]
	for _, s := range [][]byte{r.Method, r.Target, r.Path, r.RawQuery} {
		if !within(s, head) {
			t.Fatalf("slice %q does not lie inside the head", s)
		}
	}
	if !within(r.Path, r.Target) || !within(r.RawQuery, r.Target) {
		t.Fatalf("Path %q or RawQuery %q not inside Target %q", r.Path, r.RawQuery, r.Target)
	}
	if len(r.Method) == 0 || len(r.Target) == 0 || (r.ProtoMinor != 0 && r.ProtoMinor != 1) {
		t.Fatalf("bad request line: %q %q %d", r.Method, r.Target, r.ProtoMinor)
	}
	if r.ContentLength < -1 {
		t.Fatalf("ContentLength = %d", r.ContentLength)
	}
	if r.NumHeaders() > lim.MaxHeaders {
		t.Fatalf("%d headers over limit %d", r.NumHeaders(), lim.MaxHeaders)
	}
	r.VisitHeaders(func(name, value []byte) {
		if !within(name, head) || !within(value, head) {
			t.Fatalf("header %q: %q does not lie inside the head", name, value)
		}
		if !isFieldValueSlow(value) || !isToken(name) {
			t.Fatalf("header %q: %q accepted", name, value)
		}
		if r.Header(string(name)) == nil {
			t.Fatalf("Header(%q) = nil for a present field", name)
		}
	})
	r.Query("sid")

	// The head alone parses the same, and one byte less is incomplete.
	var again Request
	if n2, err := Parse(head, &again, lim); n2 != n || err != nil {
		t.Fatalf("head alone: %d, %v; want %d, nil", n2, err, n)
	}
	if _, err := Parse(head[:n-1], &again, lim); err != ErrIncomplete {
		t.Fatalf("head minus one byte: %v, want ErrIncomplete", err)
	}
}

// within reports whether s lies inside buf's memory (an empty s always does).
func within(s, buf []byte) bool {
	if len(s) == 0 {
		return true
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(buf))
}
