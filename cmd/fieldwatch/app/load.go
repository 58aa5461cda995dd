package app

import (
	"net/http"
	"sync/atomic"
)

// requestLoad counts the HTTP requests being served, every route
// included, so that the thumbnail workers give way to them (see
// fieldwatch.ThumbnailConfig.Load). It is the in-flight gauge of the
// metrics, kept as a number the process can read.
type requestLoad struct{ n atomic.Int64 }

// InFlight is the number of requests being served now.
func (l *requestLoad) InFlight() int { return int(l.n.Load()) }

// wrap counts the requests h serves.
func (l *requestLoad) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.n.Add(1)
		defer l.n.Add(-1)
		h.ServeHTTP(w, r)
	})
}
