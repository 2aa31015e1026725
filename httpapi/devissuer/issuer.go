package devissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Paths served, relative to the issuer URL.
const (
	// DiscoveryPath is the OpenID Connect discovery document.
	DiscoveryPath = "/.well-known/openid-configuration"
	// JWKSPath is the JSON Web Key Set of the current keys.
	JWKSPath = "/jwks"
)

// Options configures New. The zero value of each field means the documented default.
type Options struct {
	// URL is the issuer identifier, exactly as tokens carry it in "iss" and as verifiers are
	// configured with (no trailing slash). It may be empty and set later with SetURL, because a
	// test server's address is only known once it listens.
	URL string
	// TokenTTL is the lifetime of a minted token. Defaults to 1h: long enough for a dev session,
	// short enough that a leaked dev token does not live forever.
	TokenTTL time.Duration
	// RSABits is the RSA key size. Defaults to 2048 (fast to generate in tests, what most IdPs use).
	RSABits int
	// Now is the clock for iat/exp. Defaults to time.Now.
	Now func() time.Time
	// RSAKey, when set, is the first RSA signing key instead of a fresh one, and its key id is
	// derived from it: an issuer restarted with the same key keeps its JWKS, so a relying party
	// (oCIS refreshes its key set at most once a minute) goes on accepting new tokens at once.
	RSAKey *rsa.PrivateKey
}

// keyPair is one generation of signing keys: RSA for RS*/PS* tokens, EC P-256 for ES256.
type keyPair struct {
	rsa   *rsa.PrivateKey
	rsaID string
	ec    *ecdsa.PrivateKey
	ecID  string
}

// Issuer signs tokens and serves the documents a verifier discovers. Safe for concurrent use.
type Issuer struct {
	ttl  time.Duration
	bits int
	now  func() time.Time

	mu      sync.RWMutex
	url     string
	keys    keyPair
	clients map[string]Client
	issued  int
}

// New creates an issuer with a fresh key pair.
func New(o Options) (*Issuer, error) {
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.RSABits == 0 {
		o.RSABits = 2048
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	i := &Issuer{ttl: o.TokenTTL, bits: o.RSABits, now: o.Now, url: strings.TrimSuffix(o.URL, "/")}
	kp, err := newKeyPair(o.RSABits)
	if err != nil {
		return nil, err
	}
	if o.RSAKey != nil {
		kid, err := thumbprintID(&o.RSAKey.PublicKey)
		if err != nil {
			return nil, err
		}
		kp.rsa, kp.rsaID = o.RSAKey, kid
	}
	i.keys = kp
	return i, nil
}

// NewServer starts an issuer on a loopback httptest server and points its URL at it. Close the
// server when done.
func NewServer() (*Issuer, *httptest.Server, error) {
	i, err := New(Options{})
	if err != nil {
		return nil, nil, err
	}
	srv := httptest.NewServer(i)
	i.SetURL(srv.URL)
	return i, srv, nil
}

func newKeyPair(bits int) (keyPair, error) {
	rk, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return keyPair{}, fmt.Errorf("generate rsa key: %w", err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("generate ec key: %w", err)
	}
	return keyPair{rsa: rk, rsaID: "rsa-" + randomID(), ec: ek, ecID: "ec-" + randomID()}, nil
}

// thumbprintID names a key by its RFC 7638 thumbprint, so the same key always gets the same id.
func thumbprintID(pub *rsa.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return "rsa-" + hex.EncodeToString(tp[:8]), nil
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// URL returns the issuer identifier.
func (i *Issuer) URL() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.url
}

// SetURL sets the issuer identifier (no trailing slash).
func (i *Issuer) SetURL(u string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.url = strings.TrimSuffix(u, "/")
}

// KeyID returns the id of the current RSA key (the default signing key).
func (i *Issuer) KeyID() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.keys.rsaID
}

// Rotate replaces the signing keys. The JWKS then lists only the new keys, as an IdP does once
// an old key has been retired: tokens signed before stop verifying as soon as a verifier
// refreshes its key set.
func (i *Issuer) Rotate() error {
	kp, err := newKeyPair(i.bits)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = kp
	return nil
}

// ServeHTTP serves discovery, the JWKS, the token endpoint and userinfo. Paths are matched by
// suffix so the issuer also works mounted under a prefix (URL "http://host/issuer" serves
// "/issuer/jwks").
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, TokenPath):
		i.serveToken(w, r)
		return
	case strings.HasSuffix(r.URL.Path, UserinfoPath):
		i.serveUserinfo(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, DiscoveryPath):
		writeJSON(w, i.discovery())
	case strings.HasSuffix(r.URL.Path, JWKSPath):
		writeJSON(w, i.JWKS())
	default:
		http.NotFound(w, r)
	}
}

func (i *Issuer) discovery() map[string]any {
	u := i.URL()
	return map[string]any{
		"issuer":                                u,
		"jwks_uri":                              u + JWKSPath,
		"authorization_endpoint":                u + "/authorize",
		"token_endpoint":                        u + TokenPath,
		"userinfo_endpoint":                     u + UserinfoPath,
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"claims_supported": []string{"sub", "email", "name", "preferred_username", "groups", "roles",
			"aud", "iss", "exp", "iat", "nbf"},
	}
}

// JWKS returns the public keys currently published.
func (i *Issuer) JWKS() jose.JSONWebKeySet {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &i.keys.rsa.PublicKey, KeyID: i.keys.rsaID, Algorithm: string(jose.RS256), Use: "sig"},
		{Key: &i.keys.ec.PublicKey, KeyID: i.keys.ecID, Algorithm: string(jose.ES256), Use: "sig"},
	}}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
