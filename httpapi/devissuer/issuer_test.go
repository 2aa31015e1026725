package devissuer_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/dezky/platform-api/httpapi/devissuer"
)

func newVerifier(t *testing.T, url string) *oidc.IDTokenVerifier {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, url)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return p.VerifierContext(context.Background(), &oidc.Config{
		ClientID: "portal", SupportedSigningAlgs: []string{"RS256", "RS384", "PS256", "ES256"},
	})
}

func TestDiscoveryAndMintVerifyWithGoOIDC(t *testing.T) {
	iss, srv, err := devissuer.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	v := newVerifier(t, iss.URL())
	for _, alg := range []string{"RS256", "RS384", "PS256", "ES256"} {
		tok, err := iss.Mint(map[string]any{"sub": "u1", "aud": "portal", "email": "u1@example.com"}, devissuer.WithAlg(alg))
		if err != nil {
			t.Fatal(alg, err)
		}
		idt, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("%s: verify: %v", alg, err)
		}
		var cl struct {
			Email string `json:"email"`
		}
		if err := idt.Claims(&cl); err != nil || cl.Email != "u1@example.com" || idt.Subject != "u1" || idt.Issuer != iss.URL() {
			t.Fatalf("%s: claims %+v sub %q iss %q err %v", alg, cl, idt.Subject, idt.Issuer, err)
		}
	}
}

func TestMaliciousVariantsAreRejected(t *testing.T) {
	iss, srv, err := devissuer.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	v := newVerifier(t, iss.URL())
	claims := map[string]any{"sub": "u1", "aud": "portal"}
	cases := map[string][]devissuer.Option{
		"alg none":            {devissuer.WithAlg(devissuer.AlgNone)},
		"HS256 public key":    {devissuer.WithAlg(devissuer.AlgHS256PublicKey)},
		"unknown kid":         {devissuer.WithKeyID("nobody-knows-me")},
		"unknown key":         {devissuer.WithUnknownKey()},
		"bad signature":       {devissuer.WithBadSignature()},
		"expired":             {devissuer.WithExpiry(time.Now().Add(-time.Minute))},
		"no expiry":           {devissuer.WithoutExpiry()},
		"not yet valid":       {devissuer.WithNotBefore(time.Now().Add(time.Hour))},
		"other issuer":        {devissuer.WithIssuer("https://evil.example")},
		"audience not portal": {devissuer.WithAudience("someone-else")},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			tok, err := iss.Mint(claims, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(context.Background(), tok); err == nil {
				t.Fatal("verified a token that must be rejected")
			}
		})
	}
	t.Run("alg none header", func(t *testing.T) {
		tok, _ := iss.Mint(claims, devissuer.WithAlg(devissuer.AlgNone))
		if !strings.HasSuffix(tok, ".") {
			t.Fatalf("an unsigned token ends with an empty signature: %s", tok)
		}
	})
}

func TestRotateRemovesOldKeyFromJWKS(t *testing.T) {
	iss, srv, err := devissuer.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	old := iss.KeyID()
	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(srv.URL + devissuer.JWKSPath)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want the new RSA and EC keys", len(set.Keys))
	}
	if len(set.Key(old)) != 0 {
		t.Fatalf("old key %s still published", old)
	}
	if len(set.Key(iss.KeyID())) != 1 {
		t.Fatalf("new key %s not published", iss.KeyID())
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatal("JWKS leaks a private key")
		}
	}
}

func TestServesUnderAPrefix(t *testing.T) {
	iss, err := devissuer.New(devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/issuer/", iss)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	iss.SetURL(srv.URL + "/issuer")
	v := newVerifier(t, iss.URL())
	tok, err := iss.Mint(map[string]any{"sub": "u", "aud": "portal"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
}

func TestGivenRSAKeySurvivesARestart(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	first, err := devissuer.New(devissuer.Options{RSAKey: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(first)
	defer srv.Close()
	first.SetURL(srv.URL)
	tok, err := first.Mint(map[string]any{"sub": "u", "aud": "portal"})
	if err != nil {
		t.Fatal(err)
	}
	// A second issuer with the same key (the process restarted) publishes the same key id, so a
	// token minted before the restart still verifies against its JWKS.
	second, err := devissuer.New(devissuer.Options{RSAKey: key, URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if first.KeyID() != second.KeyID() {
		t.Fatalf("key ids differ across a restart: %s, %s", first.KeyID(), second.KeyID())
	}
	if _, err := second.Verify(tok); err != nil {
		t.Fatalf("token from before the restart: %v", err)
	}
	other, _ := devissuer.New(devissuer.Options{})
	if other.KeyID() == first.KeyID() {
		t.Fatal("a fresh issuer reused the given key's id")
	}
}
