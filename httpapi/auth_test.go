package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dezky/platform-api/httpapi/devissuer"
	"github.com/dezky/platform-api/store/storetest"
)

// TestAuthMatrix: every way a token can be wrong is a 401 problem with a Bearer challenge.
func TestAuthMatrix(t *testing.T) {
	e := newEnv(t)
	good := map[string]any{"sub": "u1", "email": "u1@example.com", "aud": audPortal}
	tok := func(claims map[string]any, opts ...devissuer.Option) string {
		return "Bearer " + e.mint(claims, opts...)
	}

	if r := e.do(req{method: http.MethodGet, path: "/tenants", header: map[string]string{"Authorization": tok(good)}}); r.code != http.StatusOK {
		t.Fatalf("baseline: a good token gets %d: %s", r.code, r.body)
	}
	cases := map[string]struct {
		reason       string
		header       string
		invalidToken bool
	}{
		"no header":         {"no credentials at all", "", false},
		"basic scheme":      {"a scheme other than Bearer", "Basic dTpw", true},
		"bearer no token":   {"the scheme alone", "Bearer", true},
		"bearer two tokens": {"a space inside the token", "Bearer a b", true},
		"not a jwt":         {"garbage in place of a JWT", "Bearer not-a-jwt", true},
		"expired":           {"exp in the past", tok(good, devissuer.WithExpiry(time.Now().Add(-time.Minute))), true},
		"no expiry":         {"a token without exp never expires; refused", tok(good, devissuer.WithoutExpiry()), true},
		"not yet valid":     {"nbf an hour ahead (beyond go-oidc's 5 min leeway)", tok(good, devissuer.WithNotBefore(time.Now().Add(time.Hour))), true},
		"wrong issuer":      {"iss of another issuer", tok(good, devissuer.WithIssuer("https://evil.example")), true},
		"audience":          {"aud not in OIDC_AUDIENCES", tok(good, devissuer.WithAudience("someone-else")), true},
		"no audience":       {"no aud at all", tok(map[string]any{"sub": "u1"}), true},
		"bad signature":     {"one bit of the signature flipped", tok(good, devissuer.WithBadSignature()), true},
		"unknown kid":       {"a kid the JWKS does not list", tok(good, devissuer.WithKeyID("not-in-jwks")), true},
		"unknown key":       {"signed by a key the issuer never published", tok(good, devissuer.WithUnknownKey()), true},
		"alg none":          {"an unsigned token", tok(good, devissuer.WithAlg(devissuer.AlgNone)), true},
		"HS256 public key":  {"HMAC keyed by the public key (algorithm confusion)", tok(good, devissuer.WithAlg(devissuer.AlgHS256PublicKey)), true},
		"no subject":        {"a verified token without sub", tok(map[string]any{"aud": audPortal}), true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := map[string]string{}
			if tc.header != "" {
				h["Authorization"] = tc.header
			}
			r := e.do(req{method: http.MethodGet, path: "/tenants", header: h})
			requireProblem(t, r, http.StatusUnauthorized)
			challenge := r.header.Get("WWW-Authenticate")
			if !strings.HasPrefix(challenge, "Bearer ") {
				t.Fatalf("%s: WWW-Authenticate %q, want a Bearer challenge", tc.reason, challenge)
			}
			if got := strings.Contains(challenge, `error="invalid_token"`); got != tc.invalidToken {
				t.Errorf("%s: invalid_token in %q = %v, want %v", tc.reason, challenge, got, tc.invalidToken)
			}
		})
	}
}

// TestOperatorNeedsAudienceAndGroup: the audience limits what a token can do.
func TestOperatorNeedsAudienceAndGroup(t *testing.T) {
	e := newEnv(t)
	cases := map[string]struct {
		reason string
		token  string
		want   int
	}{
		"operator":           {"console audience and the group", e.operator(), http.StatusAccepted},
		"portal token of op": {"the group, but a portal audience", e.user("op-1", DefaultOperatorGroup), http.StatusForbidden},
		"console without group": {"the operator audience, but no group",
			e.mint(map[string]any{"sub": "x", "aud": audConsole, "groups": []string{"staff"}}), http.StatusForbidden},
		"both audiences": {"a token for the console and the portal, with the group",
			e.mint(map[string]any{"sub": "x", "aud": []string{audPortal, audConsole}, "groups": []string{DefaultOperatorGroup}}), http.StatusAccepted},
		"partner admin": {"partner admins are not operators", e.partnerAdmin("pa", "resell"), http.StatusForbidden},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/operator/resync", "/partners"} {
				method := http.MethodPost
				if path == "/partners" {
					method = http.MethodGet
				}
				r := e.do(req{method: method, path: path, token: tc.token})
				want := tc.want
				if path == "/partners" && want == http.StatusAccepted {
					want = http.StatusOK
				}
				if r.code != want {
					t.Fatalf("%s: %s %s → %d, want %d: %s", tc.reason, method, path, r.code, want, r.body)
				}
				if want == http.StatusForbidden {
					requireProblem(t, r, http.StatusForbidden)
				}
			}
		})
	}
}

// TestKeyRotationWithoutRestart: after the issuer rotates, new tokens verify at once (go-oidc
// re-reads the JWKS on an unknown kid), and once it has, tokens of the retired key fail.
func TestKeyRotationWithoutRestart(t *testing.T) {
	e := newEnv(t)
	oldTok := e.user("u1")
	if r := e.get("/me", oldTok); r.code != http.StatusOK {
		t.Fatalf("before rotation: %d %s", r.code, r.body)
	}
	if err := e.iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	newTok := e.user("u1")
	if r := e.get("/me", newTok); r.code != http.StatusOK {
		t.Fatalf("new key after rotation: %d %s", r.code, r.body)
	}
	requireProblem(t, e.get("/me", oldTok), http.StatusUnauthorized)
}

// TestAudiencesAreAList: a token naming several audiences passes if one is accepted.
func TestAudiencesAreAList(t *testing.T) {
	e := newEnv(t)
	tok := e.mint(map[string]any{"sub": "u1", "aud": []string{"unrelated", audPartner}})
	if r := e.get("/me", tok); r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
}

func TestNewRefusesUnconfiguredAuth(t *testing.T) {
	st := storetest.NewStore(t)
	cases := map[string]AuthConfig{
		"nothing":      {},
		"no audiences": {IssuerURL: "http://127.0.0.1:1"},
		"no issuer":    {Audiences: []string{"portal"}},
	}
	for name, ac := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New(context.Background(), Config{Store: st, Auth: ac, Logger: slog.New(slog.DiscardHandler)})
			if err == nil || !strings.Contains(err.Error(), "auth not configured") {
				t.Fatalf("New = %v, want an 'auth not configured' error", err)
			}
		})
	}
}

// TestAuthDisabledActsAsDevOperator: only when asked explicitly, and loudly.
func TestAuthDisabledActsAsDevOperator(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Auth = AuthConfig{Disabled: true} })
	if len(e.logs.lines("AUTHENTICATION IS DISABLED: every request acts as an operator; never run this way outside a dev machine")) != 1 {
		t.Fatal("no loud warning at start")
	}
	if r := e.post("/operator/resync", "", nil); r.code != http.StatusAccepted {
		t.Fatalf("operator route without a token: %d %s", r.code, r.body)
	}
	me := e.get("/me", "").obj(t)
	if dig(me, "profile", "sub") != devSubject || dig(me, "access", "operator") != true {
		t.Fatalf("/me = %v", me)
	}
}

// TestDiscoveryIsRetriedOnDemand: an issuer that is down at start does not stop New; requests
// get 503 until discovery works, then tokens verify.
func TestDiscoveryIsRetriedOnDemand(t *testing.T) {
	iss, err := devissuer.New(devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var up atomic.Bool
	issSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		iss.ServeHTTP(w, r)
	}))
	defer issSrv.Close()
	iss.SetURL(issSrv.URL)

	st := storetest.NewStore(t)
	reg := prometheus.NewRegistry()
	s, err := New(context.Background(), Config{
		Store: st, Registerer: reg, Logger: slog.New(slog.DiscardHandler),
		Auth: AuthConfig{IssuerURL: iss.URL(), Audiences: []string{audPortal}},
	})
	if err != nil {
		t.Fatalf("New with the issuer down: %v", err)
	}
	s.auth.mu.Lock()
	s.auth.retryEvery = 0
	s.auth.mu.Unlock()
	api := httptest.NewServer(s.Handler())
	defer api.Close()
	e := &testEnv{t: t, iss: iss, st: st, srv: s, url: api.URL}

	tok := e.user("u1")
	p := requireProblem(t, e.get("/me", tok), http.StatusServiceUnavailable)
	if !strings.Contains(p["detail"].(string), "identity provider") {
		t.Fatalf("503 detail = %v", p["detail"])
	}
	if got := e.get("/ready", "").obj(t)["auth"]; got != "discovery pending" {
		t.Fatalf("/ready auth = %v", got)
	}
	up.Store(true)
	if r := e.get("/me", tok); r.code != http.StatusOK {
		t.Fatalf("after the issuer came up: %d %s", r.code, r.body)
	}
	if got := e.get("/ready", "").obj(t)["auth"]; got != "ok" {
		t.Fatalf("/ready auth = %v", got)
	}
}
