package interceptors

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"connectrpc.com/connect/v2"
)

// peerIP returns the caller's IP address. X-Forwarded-For is believed only
// when the direct peer is one of trusted (a proxy you run): then the
// rightmost address that is not itself a trusted proxy is the client.
func peerIP(ctx context.Context, trusted []netip.Prefix) string {
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

func hostOf(addr string) string {
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
