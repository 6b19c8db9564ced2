package ui

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// client is who sent a request: the peer, or, when the peer is a trusted
// reverse proxy, the address that proxy forwarded for and whether the
// browser's side of it is TLS.
type client struct {
	addr  string
	https bool
}

// clientOf believes X-Forwarded-For and X-Forwarded-Proto only from a
// peer in trusted: anyone else could write them.
func clientOf(r *http.Request, trusted []netip.Prefix) client {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	c := client{addr: host, https: r.TLS != nil}
	peer, err := netip.ParseAddr(host)
	if err != nil || !inPrefixes(peer.Unmap(), trusted) {
		return c
	}
	// The nearest address that is not one of our proxies is the client;
	// those further left were written by the client itself.
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		c.addr = a.Unmap().String()
		if !inPrefixes(a.Unmap(), trusted) {
			break
		}
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	c.https = c.https || strings.EqualFold(strings.TrimSpace(proto), "https")
	return c
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
