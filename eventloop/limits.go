package eventloop

import (
	"net"
	"net/netip"
	"sync"

	"github.com/panjf2000/gnet/v2"
)

// connLimits enforces Config.MaxConnections and Config.MaxConnectionsPerIP on the TCP connections the event
// loops accept. A connection over a cap is answered 503 and closed before anything is read from it.
type connLimits struct {
	max, perIP int

	mu   sync.Mutex
	byIP map[netip.Addr]int32 // open connections per client address, when perIP > 0
}

// refusedResponse is written to a connection over a cap.
var refusedResponse = []byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 20\r\n\r\ntoo many connections")

// admit counts gc in and reports whether it may stay; open is the number of connections already open.
func (l *connLimits) admit(gc gnet.Conn, open int64) bool {
	if l.max > 0 && open >= int64(l.max) {
		return false
	}
	if l.perIP <= 0 {
		return true
	}
	ip, ok := remoteIP(gc)
	if !ok {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byIP[ip] >= int32(l.perIP) {
		return false
	}
	l.byIP[ip]++
	return true
}

// release counts out a connection that admit let in.
func (l *connLimits) release(gc gnet.Conn) {
	if l.perIP <= 0 {
		return
	}
	ip, ok := remoteIP(gc)
	if !ok {
		return
	}
	l.mu.Lock()
	if n := l.byIP[ip] - 1; n > 0 {
		l.byIP[ip] = n
	} else {
		delete(l.byIP, ip)
	}
	l.mu.Unlock()
}

func remoteIP(gc gnet.Conn) (netip.Addr, bool) {
	a, ok := gc.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	return ip.Unmap(), ok
}
