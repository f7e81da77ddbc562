package auth

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	"github.com/switchboardkit/switchboard"
)

// ClientCerts is an Authenticator for TLS client certificates (mTLS). The
// TLS handshake has already verified the certificate against the server's
// client CA; ClientCerts turns it into a Principal:
//
//   - its identities are the certificate's URI SANs (SPIFFE ids), DNS SANs
//     and subject common name, in that order, the common name written
//     "cn:NAME" so that no common name can pass for a SAN; the first names
//     the principal;
//   - its scopes are those configured for any of its identities
//     (ParseIdentityScopes); a verified certificate with none configured is
//     still authenticated, and may call public methods only;
//   - its key id is "x509:" and the first 16 hex digits of the SHA-256 of
//     the certificate, so the request log tells certificates apart.
//
// A call without a verified certificate carries no credentials for it
// (nil, nil). ClientCerts never sees an unverified certificate: the server
// only requests certificates it verifies.
type ClientCerts struct {
	scopes map[string][]string // identity → scopes
}

// NewClientCerts returns the authenticator with scopes by identity.
func NewClientCerts(scopes map[string][]string) *ClientCerts {
	return &ClientCerts{scopes: scopes}
}

// ParseIdentityScopes reads "identity=scope" items
// ("spiffe://example.org/billing=petstore.v1.PetStoreService/*"); items for
// the same identity add up.
func ParseIdentityScopes(items []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, item := range items {
		i := strings.LastIndex(item, "=")
		if i <= 0 || i == len(item)-1 {
			return nil, fmt.Errorf("%q is not identity=scope", item)
		}
		identity, scope := strings.TrimSpace(item[:i]), strings.TrimSpace(item[i+1:])
		if err := switchboard.ValidateScope(scope); err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
		out[identity] = append(out[identity], scope)
	}
	return out, nil
}

// Authenticate implements Authenticator.
func (c *ClientCerts) Authenticate(ctx context.Context, _ *connect.Header) (*switchboard.Principal, error) {
	info, ok := connecthttp.ServerInfoForContext(ctx)
	if !ok || info.TLS() == nil || len(info.TLS().VerifiedChains) == 0 || len(info.TLS().VerifiedChains[0]) == 0 {
		return nil, nil
	}
	leaf := info.TLS().VerifiedChains[0][0]
	ids := identities(leaf)
	if len(ids) == 0 {
		return nil, &CredentialError{Detail: "client certificate names no identity"}
	}
	var scopes []string
	for _, id := range ids {
		for _, s := range c.scopes[id] {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	sum := sha256.Sum256(leaf.Raw)
	return &switchboard.Principal{KeyID: "x509:" + hex.EncodeToString(sum[:8]), Name: ids[0], Scopes: scopes}, nil
}

// identities lists what a client certificate says its holder is: URI SANs
// ("spiffe://example.org/billing"), then DNS SANs ("billing.internal"), then
// the subject common name as "cn:NAME". The kinds cannot be mistaken for
// one another: a DNS name has no ":", a URI has "://", and a common name
// always carries its prefix.
func identities(cert *x509.Certificate) []string {
	var ids []string
	for _, u := range cert.URIs {
		ids = append(ids, u.String())
	}
	ids = append(ids, cert.DNSNames...)
	if cert.Subject.CommonName != "" {
		ids = append(ids, "cn:"+cert.Subject.CommonName)
	}
	return ids
}

// FirstOf combines authenticators: each is asked in turn, and the first that
// recognizes credentials — a principal or an error — decides. With API keys
// before client certificates, an explicit key wins over the connection's
// certificate.
func FirstOf(authenticators ...Authenticator) Authenticator {
	return firstOf(authenticators)
}

type firstOf []Authenticator

func (f firstOf) Authenticate(ctx context.Context, header *connect.Header) (*switchboard.Principal, error) {
	for _, a := range f {
		if p, err := a.Authenticate(ctx, header); p != nil || err != nil {
			return p, err
		}
	}
	return nil, nil
}
