package app

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRequestLoad checks that a request counts while it is served and
// not after, panicking included.
func TestRequestLoad(t *testing.T) {
	var l requestLoad
	var during int
	h := l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		during = l.InFlight()
		if r.URL.Path == "/panic" {
			panic(http.ErrAbortHandler)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if during != 1 || l.InFlight() != 0 {
		t.Errorf("in flight %d during, %d after; want 1, 0", during, l.InFlight())
	}
	func() {
		defer func() { recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/panic", nil))
	}()
	if l.InFlight() != 0 {
		t.Errorf("in flight %d after a panic, want 0", l.InFlight())
	}
}
