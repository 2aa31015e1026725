package stalwartsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations/sim/faults"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
)

// TestDiscoveryRedirect pins Stalwart's /.well-known/jmap: 307, empty body, to /jmap/session,
// without authentication.
func TestDiscoveryRedirect(t *testing.T) {
	_, srv := newServer(t, stalwartsim.Options{})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "/.well-known/jmap")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	got := []any{resp.StatusCode, resp.Header.Get("Location"), string(body)}
	want := []any{http.StatusTemporaryRedirect, "/jmap/session", ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("discovery (-want +got):\n%s", diff)
	}
}

func getSession(t *testing.T, url, auth string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/jmap/session", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header, decodeBody(t, resp.Body)
}

// TestSession pins the RFC 8620 session object: limits in the core capability, the Stalwart
// capability, the primary account, apiUrl under the server's base.
func TestSession(t *testing.T) {
	_, srv := newServer(t, stalwartsim.Options{MaxCallsInRequest: 3})
	status, _, s := getSession(t, srv.URL, "Bearer "+token)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	core := s["capabilities"].(m)["urn:ietf:params:jmap:core"].(m)
	got := m{
		"apiUrl":          s["apiUrl"],
		"primaryAccounts": s["primaryAccounts"],
		"maxCalls":        core["maxCallsInRequest"],
		"maxSet":          core["maxObjectsInSet"],
		"hasStalwart":     s["capabilities"].(m)["urn:stalwart:jmap"] != nil,
		"hasAccount":      s["accounts"].(m)["a"] != nil,
	}
	want := m{
		"apiUrl":          srv.URL + "/jmap/",
		"primaryAccounts": m{"urn:stalwart:jmap": "a"},
		"maxCalls":        float64(3),
		"maxSet":          float64(500),
		"hasStalwart":     true,
		"hasAccount":      true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("session (-want +got):\n%s", diff)
	}
}

// TestAuth pins Stalwart's authentication answers: an anonymous session without accounts, and
// 401 with a challenge and a problem body for a missing or wrong token on the API and a wrong
// token on the session.
func TestAuth(t *testing.T) {
	_, srv := newServer(t, stalwartsim.Options{})
	unauthorized := m{"type": "about:blank", "status": float64(401), "title": "Unauthorized",
		"detail": "You have to authenticate first."}

	status, _, anon := getSession(t, srv.URL, "")
	if status != http.StatusOK || len(anon["accounts"].(m)) != 0 || len(anon["primaryAccounts"].(m)) != 0 {
		t.Errorf("anonymous session: status %d, %v", status, anon)
	}

	cases := map[string]struct {
		reason string
		do     func() (int, http.Header, map[string]any)
	}{
		"SessionBadToken": {"a wrong token on the session is rejected",
			func() (int, http.Header, map[string]any) { return getSession(t, srv.URL, "Bearer nope") }},
		"APINoToken": {"the API requires authentication",
			func() (int, http.Header, map[string]any) { return post(t, srv, "", []byte(`{}`)) }},
		"APIBadToken": {"a wrong token on the API is rejected",
			func() (int, http.Header, map[string]any) { return post(t, srv, "Bearer nope", []byte(`{}`)) }},
		"APIBasic": {"only the configured bearer token is accepted",
			func() (int, http.Header, map[string]any) { return post(t, srv, "Basic YTpi", []byte(`{}`)) }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			status, h, body := tc.do()
			got := m{"status": status, "body": body,
				"challenge": strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer realm=\"Stalwart Server\""),
				"ct":        h.Get("Content-Type")}
			want := m{"status": 401, "body": unauthorized, "challenge": true, "ct": "application/problem+json"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestRequestLevelErrors pins RFC 8620 §3.6.1 problem answers.
func TestRequestLevelErrors(t *testing.T) {
	_, srv := newServer(t, stalwartsim.Options{MaxCallsInRequest: 1})
	echo := []any{"Core/echo", m{}, "c"}
	mk := func(v any) []byte { b, _ := json.Marshal(v); return b }
	cases := map[string]struct {
		reason string
		body   []byte
		want   m
	}{
		"NotJSON": {"an unparsable body", []byte(`{"using":`),
			m{"type": "urn:ietf:params:jmap:error:notJSON"}},
		"NotRequest": {"methodCalls missing", mk(m{"using": using}),
			m{"type": "urn:ietf:params:jmap:error:notRequest"}},
		"BadInvocation": {"an invocation that is not a triple", mk(m{"using": using, "methodCalls": []any{[]any{"Core/echo"}}}),
			m{"type": "urn:ietf:params:jmap:error:notRequest"}},
		"UnknownCapability": {"a capability the server lacks", mk(m{"using": []string{"urn:example:nope"}, "methodCalls": []any{}}),
			m{"type": "urn:ietf:params:jmap:error:unknownCapability"}},
		"Limit": {"more calls than maxCallsInRequest", mk(m{"using": using, "methodCalls": []any{echo, echo}}),
			m{"type": "urn:ietf:params:jmap:error:limit", "limit": "maxCallsInRequest"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			status, h, body := post(t, srv, "Bearer "+token, tc.body)
			got := m{"type": body["type"]}
			if l, ok := body["limit"]; ok {
				got["limit"] = l
			}
			if status != http.StatusBadRequest || h.Get("Content-Type") != "application/problem+json" || body["detail"] == "" {
				t.Errorf("%s: status %d, content type %q, body %v", tc.reason, status, h.Get("Content-Type"), body)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestMethodLevelErrors pins RFC 8620 §3.6.2: errors inside HTTP 200, one per failed call, the
// other calls still answered.
func TestMethodLevelErrors(t *testing.T) {
	sim, srv := newServer(t, stalwartsim.Options{})
	sim.InjectMethodError("x:Domain/query", "serverFail", 1)
	res := jmap(t, srv,
		call{"x:Nope/get", m{}, "unknown"},
		call{"x:Domain/get", m{"ids": nil, "bogus": true}, "args"},
		call{"x:Domain/get", m{"accountId": "zz"}, "account"},
		call{"x:Domain/get", m{"properties": []string{"nope"}}, "prop"},
		call{"x:Domain/query", m{}, "injected"},
		call{"x:Domain/query", m{}, "after"},
		call{"x:Domain/get", m{"#ids": m{"resultOf": "missing", "name": "x:Domain/query", "path": "/ids"}}, "ref"},
	)
	got := m{}
	for id, r := range res {
		if r[0] == "error" {
			got[id] = r[1].(m)["type"]
		} else {
			got[id] = r[0]
		}
	}
	want := m{
		"unknown": "unknownMethod", "args": "invalidArguments", "account": "accountNotFound",
		"prop": "invalidArguments", "injected": "serverFail", "after": "x:Domain/query",
		"ref": "invalidResultReference",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("method responses (-want +got):\n%s", diff)
	}
}

// TestInjectedFaultBodies pins the problem JSON rendered for injected HTTP faults.
func TestInjectedFaultBodies(t *testing.T) {
	sim, srv := newServer(t, stalwartsim.Options{})
	sim.Faults().Set(faults.Config{RateLimitNext: 1, RetryAfterSeconds: 9})
	status, h, body := post(t, srv, "Bearer "+token, []byte(`{}`))
	got := m{"status": status, "retry": h.Get("Retry-After"), "ct": h.Get("Content-Type"), "type": body["type"], "title": body["title"]}
	want := m{"status": 429, "retry": "9", "ct": "application/problem+json", "type": "about:blank", "title": "Too Many Requests"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("429 (-want +got):\n%s", diff)
	}
}
