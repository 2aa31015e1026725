// Package devissuer is a small OpenID Connect issuer for the dev stack and for tests. It serves
// discovery (/.well-known/openid-configuration) and a JWKS over plain HTTP on loopback, mints
// RS256 (or ES256, PS256, ...) tokens with any claims, rotates its keys (the old ones leave the
// JWKS at once), and forges the malicious tokens an auth test needs: alg "none", HS256 signed
// with the public key's bytes, an unknown key id and a broken signature.
//
// It also answers the machine side of an identity provider, enough for a relying party such as
// oCIS to trust it: registered clients (RegisterClient) get RS256 access tokens from an OAuth2
// client_credentials token endpoint (/token), and /userinfo answers a valid token's claims.
//
// It is an http.Handler, so the dev stack mounts it on a listener of its own and tests serve
// it with httptest (see NewServer). It is not a full identity provider: there is no login and
// no authorization endpoint; whoever holds the Issuer mints what it likes.
package devissuer
