package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// One address holds at most --max-conns-per-addr connections: the next
// is answered 429 with Retry-After and closed, and a slot comes back when
// a connection closes (issue 13, defect 6; docs/reliability.md#h4).
func TestConnsPerAddrCap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		exempt []netip.Prefix
		want   int // status of the connection over the cap
	}{
		{"Capped", nil, http.StatusTooManyRequests},
		{"TrustedProxyExempt", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
				ReadHeaderTimeout: 10 * time.Second}
			go srv.Serve(capConnsPerAddr(ln, 2, tc.exempt, slog.New(slog.DiscardHandler)))
			t.Cleanup(func() { srv.Close() })

			dial := func() net.Conn {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
					t.Fatal(err)
				}
				return c
			}
			get := func(c net.Conn) int {
				t.Helper()
				if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				res.Body.Close()
				if res.StatusCode == http.StatusTooManyRequests && (res.Header.Get("Retry-After") == "" || res.Header.Get("Content-Type") != "application/problem+json") {
					t.Errorf("429 without Retry-After or problem+json: %v", res.Header)
				}
				return res.StatusCode
			}
			// Two held connections, each served.
			a, b := dial(), dial()
			if get(a) != http.StatusOK || get(b) != http.StatusOK {
				t.Fatal("connections within the cap refused")
			}
			if got := get(dial()); got != tc.want {
				t.Fatalf("third connection: status %d, want %d", got, tc.want)
			}
			if tc.exempt != nil {
				return
			}
			// A slot comes back when a connection closes. The server sees
			// the close when its read of a's next request fails.
			a.Close()
			for i := 0; ; i++ {
				c := dial()
				if get(c) == http.StatusOK {
					break
				}
				if i > 1000 {
					t.Fatal("the closed connection's slot never came back")
				}
			}
		})
	}
}
