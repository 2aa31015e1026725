// Package devissuer is a small OpenID Connect issuer for the dev stack and for tests. It serves
// discovery (/.well-known/openid-configuration) and a JWKS over plain HTTP on loopback, mints
// RS256 (or ES256, PS256, ...) tokens with any claims, rotates its keys (the old ones leave the
// JWKS at once), and forges the malicious tokens an auth test needs: alg "none", HS256 signed
// with the public key's bytes, an unknown key id and a broken signature.
//
// It is an http.Handler, so the dev stack mounts it on a listener of its own and tests serve
// it with httptest (see NewServer). It is not an identity provider: there is no login, no
// client registration and no token endpoint; whoever holds the Issuer mints what it likes.
package devissuer
