package devissuer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/dezky/platform-api/httpapi/devissuer"
)

const (
	svcID     = "dezky-platform"
	svcSecret = "s3cret with spaces&symbols"
)

func svcClaims() map[string]any {
	return map[string]any{
		"preferred_username": "dezky-platform",
		"name":               "dezky platform",
		"email":              "platform@dezky.test",
		"roles":              []any{"ocisAdmin"},
	}
}

// newClientIssuer serves an issuer with the service client registered.
func newClientIssuer(t *testing.T) *devissuer.Issuer {
	t.Helper()
	iss, srv, err := devissuer.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := iss.RegisterClient(devissuer.Client{ID: svcID, Secret: svcSecret, Claims: svcClaims()}); err != nil {
		t.Fatal(err)
	}
	return iss
}

func TestDiscoveryAdvertisesTokenAndUserinfo(t *testing.T) {
	iss := newClientIssuer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, iss.URL())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Endpoint().TokenURL, iss.URL()+devissuer.TokenPath; got != want {
		t.Errorf("token_endpoint = %q, want %q", got, want)
	}
	if p.UserInfoEndpoint() == "" {
		t.Error("discovery has no userinfo_endpoint")
	}
	var meta struct {
		Userinfo string   `json:"userinfo_endpoint"`
		Grants   []string `json:"grant_types_supported"`
		Auth     []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	want := []string{iss.URL() + devissuer.UserinfoPath, "client_credentials", "client_secret_basic"}
	if diff := cmp.Diff(want, []string{meta.Userinfo, meta.Grants[0], meta.Auth[0]}); diff != "" {
		t.Errorf("discovery (-want +got):\n%s", diff)
	}
}

// TestClientCredentialsTokenVerifiesWithGoOIDC fetches a token as platform-api does (x/oauth2,
// Basic auth) and verifies it as a relying party does (discovery + JWKS).
func TestClientCredentialsTokenVerifiesWithGoOIDC(t *testing.T) {
	iss := newClientIssuer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc := clientcredentials.Config{ClientID: svcID, ClientSecret: svcSecret, TokenURL: iss.URL() + devissuer.TokenPath,
		Scopes: []string{"openid", "profile"}, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 50*time.Minute {
		t.Errorf("token type %q, expiry %s: want Bearer and the 1h default", tok.TokenType, tok.Expiry)
	}
	if got := tok.Extra("scope"); got != "openid profile" {
		t.Errorf("scope = %v, want the requested scopes", got)
	}
	// Relying parties that check the audience expect the client id there.
	v := oidcVerifierFor(t, iss.URL(), svcID)
	idt, err := v.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var cl map[string]any
	if err := idt.Claims(&cl); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"iss": iss.URL(), "sub": svcID, "aud": svcID, "preferred_username": "dezky-platform",
		"name": "dezky platform", "email": "platform@dezky.test", "roles": []any{"ocisAdmin"}} {
		if diff := cmp.Diff(want, cl[k]); diff != "" {
			t.Errorf("claim %s (-want +got):\n%s", k, diff)
		}
	}
	for _, k := range []string{"exp", "iat"} {
		if _, ok := cl[k].(float64); !ok {
			t.Errorf("claim %s missing: %v", k, cl)
		}
	}
	if n := iss.TokensIssued(); n != 1 {
		t.Errorf("TokensIssued = %d, want 1", n)
	}
}

func oidcVerifierFor(t *testing.T, url, aud string) *oidc.IDTokenVerifier {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	return p.VerifierContext(context.Background(), &oidc.Config{ClientID: aud, SupportedSigningAlgs: []string{"RS256"}})
}

func postToken(t *testing.T, tokenURL string, form url.Values, basicID, basicSecret string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, res.Header, body
}

func TestTokenEndpointErrors(t *testing.T) {
	iss := newClientIssuer(t)
	tokenURL := iss.URL() + devissuer.TokenPath
	cc := url.Values{"grant_type": {"client_credentials"}}
	cases := map[string]struct {
		reason    string
		form      url.Values
		id        string
		secret    string
		want      int
		wantError string
		basicHint bool
	}{
		"basic":          {reason: "RFC 6749 §2.3.1 Basic", form: cc, id: svcID, secret: svcSecret, want: 200},
		"form":           {reason: "client_secret_post is allowed too", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {svcID}, "client_secret": {svcSecret}}, want: 200},
		"wrong secret":   {reason: "a bad secret is invalid_client", form: cc, id: svcID, secret: "nope", want: 401, wantError: "invalid_client", basicHint: true},
		"unknown client": {reason: "an unregistered id is invalid_client", form: cc, id: "stranger", secret: svcSecret, want: 401, wantError: "invalid_client", basicHint: true},
		"no auth":        {reason: "no client authentication", form: cc, want: 401, wantError: "invalid_client"},
		"both methods":   {reason: "§2.3: one method only", form: url.Values{"grant_type": {"client_credentials"}, "client_secret": {svcSecret}}, id: svcID, secret: svcSecret, want: 400, wantError: "invalid_request"},
		"no grant":       {reason: "grant_type is required", form: url.Values{"scope": {"openid"}}, id: svcID, secret: svcSecret, want: 400, wantError: "invalid_request"},
		"password grant": {reason: "only client_credentials is issued", form: url.Values{"grant_type": {"password"}}, id: svcID, secret: svcSecret, want: 400, wantError: "unsupported_grant_type"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := iss.TokensIssued()
			status, hdr, body := postToken(t, tokenURL, tc.form, tc.id, tc.secret)
			if status != tc.want {
				t.Fatalf("%s: status %d, want %d (%v)", tc.reason, status, tc.want, body)
			}
			if tc.wantError == "" {
				if body["access_token"] == "" || iss.TokensIssued() != before+1 {
					t.Errorf("%s: no token issued: %v", tc.reason, body)
				}
				return
			}
			if body["error"] != tc.wantError || body["access_token"] != nil || iss.TokensIssued() != before {
				t.Errorf("%s: body %v, want error %q and no token", tc.reason, body, tc.wantError)
			}
			if got := strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic"); got != tc.basicHint {
				t.Errorf("%s: WWW-Authenticate %q", tc.reason, hdr.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		res, err := http.Get(tokenURL)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "POST" {
			t.Errorf("GET /token: %d Allow %q", res.StatusCode, res.Header.Get("Allow"))
		}
	})
}

func TestRegisteredClaimsCannotBeOverridden(t *testing.T) {
	iss := newClientIssuer(t)
	err := iss.RegisterClient(devissuer.Client{ID: "sneaky", Secret: "x", Claims: map[string]any{
		"iss": "https://evil.example", "aud": "portal", "exp": 4102444800, "preferred_username": "sneaky",
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, body := postToken(t, iss.URL()+devissuer.TokenPath, url.Values{"grant_type": {"client_credentials"}}, "sneaky", "x")
	cl, err := iss.Verify(body["access_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if cl["iss"] != iss.URL() || cl["aud"] != "sneaky" || cl["exp"].(float64) > float64(time.Now().Add(2*time.Hour).Unix()) {
		t.Errorf("a registration overrode registered claims: %v", cl)
	}
	if err := iss.RegisterClient(devissuer.Client{ID: "no-secret"}); err == nil {
		t.Error("a client without a secret was registered")
	}
}

func getUserinfo(t *testing.T, iss *devissuer.Issuer, auth string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, iss.URL()+devissuer.UserinfoPath, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, res.Header, body
}

func TestUserinfo(t *testing.T) {
	iss := newClientIssuer(t)
	_, _, tr := postToken(t, iss.URL()+devissuer.TokenPath, url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, svcID, svcSecret)
	tok := tr["access_token"].(string)

	t.Run("valid token", func(t *testing.T) {
		status, _, body := getUserinfo(t, iss, "Bearer "+tok)
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		want := svcClaims()
		want["sub"] = svcID
		if diff := cmp.Diff(want, body); diff != "" {
			t.Errorf("userinfo (-want +got):\n%s", diff)
		}
	})
	t.Run("go-oidc reads it", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p, err := oidc.NewProvider(ctx, iss.URL())
		if err != nil {
			t.Fatal(err)
		}
		ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}))
		if err != nil || ui.Subject != svcID || ui.Email != "platform@dezky.test" {
			t.Fatalf("userinfo %+v, err %v", ui, err)
		}
	})

	expired, _ := iss.Mint(map[string]any{"sub": "u"}, devissuer.WithExpiry(time.Now().Add(-time.Minute)))
	noExp, _ := iss.Mint(map[string]any{"sub": "u"}, devissuer.WithoutExpiry())
	other, _ := iss.Mint(map[string]any{"sub": "u"}, devissuer.WithIssuer("https://evil.example"))
	unknown, _ := iss.Mint(map[string]any{"sub": "u"}, devissuer.WithUnknownKey())
	badSig, _ := iss.Mint(map[string]any{"sub": "u"}, devissuer.WithBadSignature())
	none, _ := iss.Mint(map[string]any{"sub": "u"}, devissuer.WithAlg(devissuer.AlgNone))
	hs, _ := iss.Mint(map[string]any{"sub": "u"}, devissuer.WithAlg(devissuer.AlgHS256PublicKey))
	cases := map[string]string{
		"no header":     "",
		"basic":         "Basic " + tok,
		"expired":       "Bearer " + expired,
		"no expiry":     "Bearer " + noExp,
		"other issuer":  "Bearer " + other,
		"unknown key":   "Bearer " + unknown,
		"bad signature": "Bearer " + badSig,
		"alg none":      "Bearer " + none,
		"HS256":         "Bearer " + hs,
		"garbage":       "Bearer not.a.jwt",
	}
	for name, auth := range cases {
		t.Run(name, func(t *testing.T) {
			status, hdr, body := getUserinfo(t, iss, auth)
			if status != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") || body != nil {
				t.Errorf("status %d, WWW-Authenticate %q, body %v: want 401 with a Bearer challenge and no claims",
					status, hdr.Get("WWW-Authenticate"), body)
			}
		})
	}
	t.Run("rotated key", func(t *testing.T) {
		if err := iss.Rotate(); err != nil {
			t.Fatal(err)
		}
		if status, _, _ := getUserinfo(t, iss, "Bearer "+tok); status != http.StatusUnauthorized {
			t.Errorf("a token signed by a retired key: status %d, want 401", status)
		}
	})
}
