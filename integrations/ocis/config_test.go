package ocis_test

import (
	"github.com/dezky/platform-api/integrations/integrationstest"
	"strings"
	"testing"

	"github.com/dezky/platform-api/integrations/ocis"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
)

func TestNewValidatesConfig(t *testing.T) {
	valid := func() ocis.Config {
		return ocis.Config{BaseURL: "https://cloud.example.com", TokenURL: "https://idp.example.com/token", ClientID: "id", ClientSecret: "s3cr3t-v4lue"}
	}
	cases := map[string]struct {
		reason  string
		mutate  func(*ocis.Config)
		wantErr string
	}{
		"valid":           {reason: "a complete config", mutate: func(*ocis.Config) {}},
		"no base":         {reason: "BaseURL is required", mutate: func(c *ocis.Config) { c.BaseURL = "" }, wantErr: "BaseURL"},
		"relative base":   {reason: "BaseURL must be absolute", mutate: func(c *ocis.Config) { c.BaseURL = "cloud.example.com" }, wantErr: "BaseURL"},
		"ftp base":        {reason: "BaseURL must be http(s)", mutate: func(c *ocis.Config) { c.BaseURL = "ftp://cloud" }, wantErr: "BaseURL"},
		"no token url":    {reason: "TokenURL is required", mutate: func(c *ocis.Config) { c.TokenURL = "" }, wantErr: "TokenURL"},
		"no client id":    {reason: "client credentials are required", mutate: func(c *ocis.Config) { c.ClientID = "" }, wantErr: "ClientID"},
		"no secret":       {reason: "client credentials are required", mutate: func(c *ocis.Config) { c.ClientSecret = "" }, wantErr: "ClientSecret"},
		"missing CA file": {reason: "an unreadable CA_FILE stops start-up", mutate: func(c *ocis.Config) { c.HTTP.CAFile = "/nonexistent/ca.pem" }, wantErr: "CA_FILE"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			_, err := ocis.New(c)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("%s: %v", tc.reason, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("%s: err = %v, want it to mention %s", tc.reason, err, tc.wantErr)
			case err != nil && c.ClientSecret != "" && strings.Contains(err.Error(), c.ClientSecret):
				t.Errorf("%s: error leaks the secret: %v", tc.reason, err)
			}
		})
	}
}

// TestBaseURLWithGraphSuffix accepts an OCIS_API_URL that already ends in /graph.
func TestBaseURLWithGraphSuffix(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, err := ocis.New(ocis.Config{
		BaseURL: e.srv.URL + "/graph/", TokenURL: ocissim.TokenURL(e.srv.URL), ClientID: clientID, ClientSecret: clientSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := integrationstest.Converge(ctx(t), c, desired()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if e.sim.DriveCount() != 1 {
		t.Errorf("%d spaces", e.sim.DriveCount())
	}
}

func TestCustomScopesAndPrefix(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, err := ocis.New(ocis.Config{
		BaseURL: e.srv.URL, TokenURL: ocissim.TokenURL(e.srv.URL), ClientID: clientID, ClientSecret: clientSecret,
		Scopes: []string{"openid", "ocis"}, GroupPrefix: "ws-",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := integrationstest.Converge(ctx(t), c, desired()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if got := e.sim.LastTokenScopes(); strings.Join(got, " ") != "openid ocis" {
		t.Errorf("scopes %v", got)
	}
	if g := e.sim.Groups(); len(g) != 1 || g[0].DisplayName != "ws-acme" {
		t.Errorf("groups %v", g)
	}
}
