package ocissim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTokenEndpoint(t *testing.T) {
	basic := func(id, secret string) string {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return r.Header.Get("Authorization")
	}
	cases := map[string]struct {
		reason     string
		method     string
		auth       string
		form       string
		wantStatus int
		wantError  string
	}{
		"basic":              {reason: "RFC 6749 §2.3.1 Basic client authentication", auth: basic(testClientID, testClientSecret), form: "grant_type=client_credentials", wantStatus: 200},
		"form":               {reason: "client_id and client_secret in the body are allowed too", form: "grant_type=client_credentials&client_id=" + testClientID + "&client_secret=" + testClientSecret, wantStatus: 200},
		"wrong secret":       {reason: "a bad client is invalid_client with 401", auth: basic(testClientID, "nope"), form: "grant_type=client_credentials", wantStatus: 401, wantError: "invalid_client"},
		"unknown client":     {reason: "an unknown id is invalid_client", form: "grant_type=client_credentials&client_id=x&client_secret=" + testClientSecret, wantStatus: 401, wantError: "invalid_client"},
		"no client":          {reason: "no authentication at all is invalid_client", form: "grant_type=client_credentials", wantStatus: 401, wantError: "invalid_client"},
		"unsupported grant":  {reason: "only client_credentials is issued", auth: basic(testClientID, testClientSecret), form: "grant_type=password&username=a&password=b", wantStatus: 400, wantError: "unsupported_grant_type"},
		"missing grant":      {reason: "grant_type is required", auth: basic(testClientID, testClientSecret), form: "scope=openid", wantStatus: 400, wantError: "invalid_request"},
		"two auth methods":   {reason: "RFC 6749 §2.3: one method only", auth: basic(testClientID, testClientSecret), form: "grant_type=client_credentials&client_secret=" + testClientSecret, wantStatus: 400, wantError: "invalid_request"},
		"GET is not allowed": {reason: "the token endpoint takes POST", method: http.MethodGet, wantStatus: 405, wantError: "invalid_request"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, srv := newTestServer(t, Options{})
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, TokenURL(srv.URL), strings.NewReader(tc.form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("%s: status %d, want %d (%v)", tc.reason, resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantError != "" {
				if body["error"] != tc.wantError {
					t.Errorf("%s: error %v, want %s", tc.reason, body["error"], tc.wantError)
				}
				if s.TokensIssued() != 0 {
					t.Errorf("%s: a token was issued on failure", tc.reason)
				}
				return
			}
			if body["token_type"] != "Bearer" || body["access_token"] == "" || body["expires_in"].(float64) != DefaultTokenTTL.Seconds() {
				t.Errorf("%s: token response %v", tc.reason, body)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: Cache-Control %q, want no-store", tc.reason, resp.Header.Get("Cache-Control"))
			}
			if s.TokensIssued() != 1 {
				t.Errorf("%s: TokensIssued = %d, want 1", tc.reason, s.TokensIssued())
			}
		})
	}
}

func TestTokenScopesRecorded(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	issueToken(t, srv)
	if diff := cmp.Diff([]string{"openid", "profile"}, s.LastTokenScopes()); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
}

func TestGraphAuth(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	good := issueToken(t, srv)
	cases := map[string]struct {
		reason string
		header []string
		token  string
		want   int
	}{
		"issued token":  {reason: "an unexpired issued token opens the API", token: good, want: 200},
		"no token":      {reason: "anonymous calls are refused", want: 401},
		"unknown token": {reason: "only tokens this IdP issued count", token: "forged", want: 401},
		"basic auth":    {reason: "basic auth is development-only in oCIS", header: []string{"Authorization", "Basic ZGV6a3k6c2VjcmV0"}, want: 401},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := do(t, srv, tc.token, http.MethodGet, "/graph/v1.0/drives", "", tc.header...)
			if r.status != tc.want {
				t.Fatalf("%s: status %d, want %d", tc.reason, r.status, tc.want)
			}
			if tc.want == 401 {
				// oCIS's proxy answers an empty body and a Bearer challenge naming the host.
				if len(r.body) != 0 {
					t.Errorf("%s: 401 body %q, want none", tc.reason, r.body)
				}
				want := `Bearer realm="` + strings.TrimPrefix(srv.URL, "http://") + `", charset="UTF-8"`
				if got := r.header.Get("WWW-Authenticate"); got != want {
					t.Errorf("%s: WWW-Authenticate %q, want %q", tc.reason, got, want)
				}
			}
		})
	}
	t.Run("expired token", func(t *testing.T) {
		s.ExpireTokens()
		if r := do(t, srv, good, http.MethodGet, "/graph/v1.0/drives", ""); r.status != 401 {
			t.Fatalf("expired token: status %d, want 401", r.status)
		}
		if r := do(t, srv, issueToken(t, srv), http.MethodGet, "/graph/v1.0/drives", ""); r.status != 200 {
			t.Fatalf("a new token after expiry: status %d, want 200", r.status)
		}
	})
}

func TestTokenTTL(t *testing.T) {
	_, srv := newTestServer(t, Options{TokenTTL: 300 * time.Millisecond})
	req, _ := http.NewRequest(http.MethodPost, TokenURL(srv.URL), strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testClientID, testClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	if tr.ExpiresIn != 1 {
		t.Errorf("expires_in = %d, want 1 (whole seconds, at least one)", tr.ExpiresIn)
	}
	// The token really expires after its TTL: poll rather than sleep a guessed time.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := do(t, srv, tr.AccessToken, http.MethodGet, "/graph/v1.0/drives", "")
		if r.status == 401 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("token still accepted long after its TTL (status %d)", r.status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRotateIssuerKeys: after a key rotation oCIS refuses new tokens until it refetched the
// keys (at most once per lag), keeps accepting tokens it already verified, and refuses old ones
// it never saw.
func TestRotateIssuerKeys(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	used := issueToken(t, srv)
	if r := do(t, srv, used, http.MethodGet, "/graph/v1.0/drives", ""); r.status != 200 {
		t.Fatalf("before rotation: %d", r.status)
	}
	unused := issueToken(t, srv)
	s.RotateIssuerKeys(300 * time.Millisecond)
	fresh := issueToken(t, srv)
	for name, c := range map[string]struct {
		tok  string
		want int
	}{"used before": {used, 200}, "issued before, never used": {unused, 401}, "issued after": {fresh, 401}} {
		if r := do(t, srv, c.tok, http.MethodGet, "/graph/v1.0/drives", ""); r.status != c.want {
			t.Errorf("%s: %d, want %d", name, r.status, c.want)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for do(t, srv, fresh, http.MethodGet, "/graph/v1.0/drives", "").status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("a token of the new key is still refused long after the lag")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := do(t, srv, unused, http.MethodGet, "/graph/v1.0/drives", ""); r.status != 401 {
		t.Errorf("a never-used token of the retired key: %d, want 401 for good", r.status)
	}
}
