// Package peer names the client of a call the same way everywhere the kit
// counts or records clients (the request log, the auth failure limit, the
// anonymous stream caps): its IP address, or the client named by
// X-Forwarded-For when the direct peer is a trusted proxy; and, for limits,
// the key it is counted by.
package peer

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"connectrpc.com/connect/v2"
)

// IP returns the caller's IP address. X-Forwarded-For is believed only when
// the direct peer is one of trusted (a proxy you run): then the rightmost
// address that is not itself a trusted proxy is the client.
func IP(ctx context.Context, trusted []netip.Prefix) string {
	info, ok := connect.CallInfoForServerContext(ctx)
	if !ok {
		return ""
	}
	direct := hostOf(info.PeerAddr)
	addr, err := netip.ParseAddr(direct)
	if err != nil || !isTrusted(addr, trusted) {
		return direct
	}
	hops := strings.Split(strings.Join(info.RequestHeader().Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !isTrusted(hop, trusted) {
			return hop.String()
		}
	}
	return direct
}

// Key is what limits count a peer by: the IPv4 address, or the /64 of an
// IPv6 address (one host usually holds a whole /64, so counting single IPv6
// addresses would let it rotate past a limit).
func Key(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		prefix, _ := addr.Prefix(64)
		return prefix.String()
	}
	return addr.String()
}

func hostOf(addr string) string {
	if addr == "" {
		return "" // no network peer (an in-process call)
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	addr = addr.Unmap()
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
