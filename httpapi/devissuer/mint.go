package devissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Malicious algorithms WithAlg understands besides the real ones.
const (
	// AlgNone makes an unsigned token ("alg": "none", empty signature).
	AlgNone = "none"
	// AlgHS256PublicKey makes an HS256 token whose HMAC secret is the PEM of the issuer's public
	// RSA key: the classic algorithm-confusion attack on verifiers that let the token pick.
	AlgHS256PublicKey = "HS256"
)

// mint collects what the options change.
type mint struct {
	claims     map[string]any
	alg        string
	kid        string
	kidSet     bool
	unknownKey bool
	badSig     bool
}

// Option changes one aspect of a minted token. Options apply after the claims passed to Mint,
// so they win over them.
type Option func(*mint)

// WithExpiry sets "exp".
func WithExpiry(t time.Time) Option { return func(m *mint) { m.claims["exp"] = t.Unix() } }

// WithoutExpiry drops "exp" (a verifier must reject such a token).
func WithoutExpiry() Option { return func(m *mint) { delete(m.claims, "exp") } }

// WithNotBefore sets "nbf".
func WithNotBefore(t time.Time) Option { return func(m *mint) { m.claims["nbf"] = t.Unix() } }

// WithIssuer sets "iss" (a different issuer than this one makes a wrong-issuer token).
func WithIssuer(iss string) Option { return func(m *mint) { m.claims["iss"] = iss } }

// WithAudience sets "aud": a string for one audience, an array for several.
func WithAudience(aud ...string) Option {
	return func(m *mint) {
		if len(aud) == 1 {
			m.claims["aud"] = aud[0]
		} else {
			m.claims["aud"] = aud
		}
	}
}

// WithKeyID puts kid in the header while still signing with the current key: a kid the JWKS
// does not list makes an unknown-kid token.
func WithKeyID(kid string) Option { return func(m *mint) { m.kid, m.kidSet = kid, true } }

// WithAlg picks the algorithm: RS256 (default), RS384, RS512, PS256, PS384, PS512 with the RSA
// key; ES256 with the EC key; AlgNone and AlgHS256PublicKey forge the malicious variants.
func WithAlg(alg string) Option { return func(m *mint) { m.alg = alg } }

// WithUnknownKey signs with a fresh key the JWKS never publishes, under a random kid.
func WithUnknownKey() Option { return func(m *mint) { m.unknownKey = true } }

// WithBadSignature mints a valid token, then flips one byte of its signature.
func WithBadSignature() Option { return func(m *mint) { m.badSig = true } }

// Mint returns a compact JWT carrying claims. Unless claims or options say otherwise it has
// iss = the issuer URL, iat = now, exp = now + TokenTTL and a random jti; "aud" and "sub" come
// only from claims or options.
func (i *Issuer) Mint(claims map[string]any, opts ...Option) (string, error) {
	now := i.now()
	m := &mint{claims: map[string]any{
		"iss": i.URL(),
		"iat": now.Unix(),
		"exp": now.Add(i.ttl).Unix(),
		"jti": randomID(),
	}, alg: string(jose.RS256)}
	maps.Copy(m.claims, claims)
	for _, o := range opts {
		o(m)
	}
	payload, err := json.Marshal(m.claims)
	if err != nil {
		return "", fmt.Errorf("marshal claims: %w", err)
	}
	switch m.alg {
	case AlgNone:
		return i.unsigned(m, payload), nil
	case AlgHS256PublicKey:
		return i.hs256WithPublicKey(m, payload)
	}
	token, err := i.sign(m, payload)
	if err != nil {
		return "", err
	}
	if m.badSig {
		token = corruptSignature(token)
	}
	return token, nil
}

func (i *Issuer) sign(m *mint, payload []byte) (string, error) {
	i.mu.RLock()
	keys := i.keys
	i.mu.RUnlock()
	alg := jose.SignatureAlgorithm(m.alg)
	var key any
	kid := keys.rsaID
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
		key = keys.rsa
		if m.unknownKey {
			k, err := rsa.GenerateKey(rand.Reader, i.bits)
			if err != nil {
				return "", fmt.Errorf("generate unknown key: %w", err)
			}
			key, kid = k, "unknown-"+randomID()
		}
	case jose.ES256:
		key, kid = keys.ec, keys.ecID
		if m.unknownKey {
			return "", fmt.Errorf("WithUnknownKey supports RSA algorithms only")
		}
	default:
		return "", fmt.Errorf("unsupported alg %q", m.alg)
	}
	if m.kidSet {
		kid = m.kid
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("new signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return jws.CompactSerialize()
}

// unsigned builds an "alg": "none" token by hand: go-jose refuses to produce one.
func (i *Issuer) unsigned(m *mint, payload []byte) string {
	h := map[string]any{"alg": "none", "typ": "JWT"}
	if m.kidSet {
		h["kid"] = m.kid
	} else {
		h["kid"] = i.KeyID()
	}
	hb, _ := json.Marshal(h)
	return b64(hb) + "." + b64(payload) + "."
}

// hs256WithPublicKey signs with HMAC-SHA256 keyed by the PEM of the public RSA key, under the
// RSA key's kid: a verifier that trusted the header's alg would accept it.
func (i *Issuer) hs256WithPublicKey(m *mint, payload []byte) (string, error) {
	kid := i.KeyID()
	if m.kidSet {
		kid = m.kid
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: i.PublicKeyPEM(), KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("new hmac signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign hmac: %w", err)
	}
	return jws.CompactSerialize()
}

// PublicKeyPEM returns the current RSA public key as PEM (PKIX).
func (i *Issuer) PublicKeyPEM() []byte {
	i.mu.RLock()
	pub := &i.keys.rsa.PublicKey
	i.mu.RUnlock()
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// corruptSignature flips one bit in the middle of the signature so it still decodes but no
// longer verifies.
func corruptSignature(token string) string {
	parts := strings.Split(token, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) == 0 {
		return token
	}
	sig[len(sig)/2] ^= 0x01
	parts[2] = b64(sig)
	return strings.Join(parts, ".")
}
