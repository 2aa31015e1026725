package ocis_test

import (
	"encoding/base64"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dezky/platform-api/integrations/sim/faults"
)

// TestSecretsNeverLogged runs failing and succeeding flows with Debug logging and checks that no
// client secret, access token or Authorization value shows up in the logs or in an error.
func TestSecretsNeverLogged(t *testing.T) {
	const wrongSecret = "wr0ng-s3cret-also-secret"
	var texts []string
	var envs []*env

	bad := newEnv(t, envOptions{secret: wrongSecret})
	envs = append(envs, bad)
	if _, err := integrationstest.Converge(ctx(t), bad.client, desired()); err != nil {
		texts = append(texts, err.Error())
	} else {
		t.Fatal("Ensure with a wrong secret succeeded")
	}

	e := newEnv(t, envOptions{})
	envs = append(envs, e)
	d := desired()
	mustEnsure(t, e, &d)
	e.sim.Faults().Set(faults.Config{ErrorRate: 1, ErrorStatus: http.StatusInternalServerError})
	if _, err := integrationstest.Converge(ctx(t), e.client, d); err != nil {
		texts = append(texts, err.Error())
	}
	e.sim.Faults().Clear()
	e.sim.ExpireTokens() // a 401 on the cached token, then a fresh token
	mustEnsure(t, e, &d)
	e.sim.Faults().Set(faults.Config{RateLimitNext: 1, RetryAfterSeconds: 1})
	if err := e.client.Delete(ctx(t), d); err != nil {
		texts = append(texts, err.Error())
	}
	e.sim.Faults().Clear()
	if err := e.client.Delete(ctx(t), d); err != nil {
		t.Fatal(err)
	}

	secrets := []string{
		clientSecret, wrongSecret,
		url.QueryEscape(clientSecret),
		base64.StdEncoding.EncodeToString([]byte(clientID + ":" + clientSecret)),
		base64.StdEncoding.EncodeToString([]byte(clientID + ":" + wrongSecret)),
	}
	tokens := 0
	for _, en := range envs {
		for _, r := range en.sim.Faults().Requests() {
			if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				secrets = append(secrets, tok)
				tokens++
			}
		}
		texts = append(texts, en.logs.String())
	}
	if tokens == 0 || e.sim.TokensIssued() != 2 {
		t.Fatalf("the flow used %d bearer headers and %d tokens: it did not exercise tokens", tokens, e.sim.TokensIssued())
	}
	logs := e.logs.String()
	for _, want := range []string{`msg="ocis request"`, "method=POST", "path=/graph/v1.0/drives", "status=201", "status=401", "status=500", "duration=", `msg="ocis token request"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("debug logs lack %q:\n%s", want, logs)
		}
	}
	if !strings.Contains(bad.logs.String(), "status=401") {
		t.Errorf("the refused token request is not logged with its status:\n%s", bad.logs.String())
	}
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret %q… leaked into:\n%s", s[:4], text)
			}
		}
		if strings.Contains(strings.ToLower(text), "authorization") || strings.Contains(text, "Bearer ") {
			t.Errorf("an Authorization value may have leaked into:\n%s", text)
		}
	}
}
