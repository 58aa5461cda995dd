package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// connCapRetryAfter is what a refused connection is told to wait.
const connCapRetryAfter = 5

// capConnsPerAddr bounds the connections one client address may hold open
// at once (docs/reliability.md#h4, #g2): a client that opens hundreds of
// connections and trickles or stalls on each gets a 429 problem with
// Retry-After on the ones beyond the cap, and they are closed at once, so
// other clients still get connections. Addresses of trusted proxies are
// exempt (every client behind the proxy arrives from it; the proxy should
// apply its own cap). max 0 disables the cap.
func capConnsPerAddr(ln net.Listener, max int, exempt []netip.Prefix, log *slog.Logger) net.Listener {
	if max <= 0 {
		return ln
	}
	return &addrCapListener{Listener: ln, max: max, exempt: exempt, log: log, open: map[netip.Addr]int{}}
}

type addrCapListener struct {
	net.Listener
	max    int
	exempt []netip.Prefix
	log    *slog.Logger

	mu   sync.Mutex
	open map[netip.Addr]int
}

// Accept returns the next connection within its address's cap; it
// answers and closes the others itself.
func (l *addrCapListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr, ok := remoteAddr(c)
		if !ok || slices.ContainsFunc(l.exempt, func(p netip.Prefix) bool { return p.Contains(addr) }) {
			return c, nil
		}
		if !l.take(addr) {
			l.log.Warn("connection refused: too many from one address", slog.String("remote_ip", addr.String()), slog.Int("cap", l.max))
			go refuseConn(c)
			continue
		}
		return &cappedConn{Conn: c, release: func() { l.give(addr) }}, nil
	}
}

func (l *addrCapListener) take(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[a] >= l.max {
		return false
	}
	l.open[a]++
	return true
}

func (l *addrCapListener) give(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[a]--; l.open[a] <= 0 {
		delete(l.open, a)
	}
}

func remoteAddr(c net.Conn) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// refuseConn answers a connection over the cap with a problem+json 429
// and closes it. The write is bounded: a client that does not read must
// not hold this goroutine.
func refuseConn(c net.Conn) {
	defer c.Close()
	body := fmt.Sprintf(`{"type":"urn:fieldwatch:problem:rate-limited","title":"Too Many Requests","status":429,"detail":"too many connections from your address; retry after %d seconds"}`, connCapRetryAfter)
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/problem+json\r\nRetry-After: %d\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		connCapRetryAfter, len(body), body)
}

// cappedConn gives its address's slot back when closed (once: the
// server may close a connection more than once).
type cappedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
