package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(map[string]string{"AUTH_DISABLED": "true"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		MongoURI: "mongodb://localhost:27017", MongoDB: "dezky", HTTPAddr: ":3001", Mode: "all",
		LogFormat: "json", LogLevel: "info", Workers: 8,
		PollInterval: time.Second, ResyncInterval: 10 * time.Minute, StepTimeout: 30 * time.Second,
		LeaseDuration: 15 * time.Second, LeaseRenew: 5 * time.Second,
		OperatorGroup: "dezky-operators", AuthDisabled: true, AuthentikGroupPrefix: "tenant-",
		OCISTokenScopes: []string{"openid", "profile"},
		AuthentikMaxRPS: 20, StalwartMaxRPS: 20, OCISMaxRPS: 20, ResyncMode: "list",
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestEnvAndFlags(t *testing.T) {
	c, err := Load(env(map[string]string{
		"MODE": "api", "OIDC_ISSUER_URL": "https://id.example/", "OIDC_AUDIENCES": "portal, console ,",
		"POLL_INTERVAL": "200ms",
	}), []string{"-mode=controller", "-controller-workers=3"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != "controller" || c.Workers != 3 || c.PollInterval != 200*time.Millisecond {
		t.Errorf("got mode %q workers %d poll %s", c.Mode, c.Workers, c.PollInterval)
	}
	if diff := cmp.Diff([]string{"portal", "console"}, c.OIDCAudiences); diff != "" {
		t.Errorf("audiences (-want +got):\n%s", diff)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := map[string]struct {
		env  map[string]string
		name string
	}{
		"mongo uri":        {map[string]string{"MONGO_URI": "localhost:27017"}, "MONGO_URI"},
		"mode":             {map[string]string{"MODE": "both"}, "MODE"},
		"log format":       {map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		"log level":        {map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		"workers":          {map[string]string{"CONTROLLER_WORKERS": "many"}, "CONTROLLER_WORKERS"},
		"zero workers":     {map[string]string{"CONTROLLER_WORKERS": "0"}, "CONTROLLER_WORKERS"},
		"poll interval":    {map[string]string{"POLL_INTERVAL": "1"}, "POLL_INTERVAL"},
		"negative resync":  {map[string]string{"RESYNC_INTERVAL": "-1m"}, "RESYNC_INTERVAL"},
		"step timeout":     {map[string]string{"STEP_TIMEOUT": "soon"}, "STEP_TIMEOUT"},
		"zero rps":         {map[string]string{"AUTHENTIK_MAX_RPS": "0"}, "AUTHENTIK_MAX_RPS"},
		"rps not a number": {map[string]string{"OCIS_MAX_RPS": "fast"}, "OCIS_MAX_RPS"},
		"resync mode":      {map[string]string{"RESYNC_MODE": "sometimes"}, "RESYNC_MODE"},
		"lease order":      {map[string]string{"LEASE_DURATION": "5s", "LEASE_RENEW": "5s"}, "LEASE_RENEW"},
		"auth disabled":    {map[string]string{"AUTH_DISABLED": "maybe"}, "AUTH_DISABLED"},
		"issuer url":       {map[string]string{"OIDC_ISSUER_URL": "not a url"}, "OIDC_ISSUER_URL"},
		"auth missing":     {map[string]string{"AUTH_DISABLED": "false"}, "OIDC_ISSUER_URL"},
		"authentik url":    {map[string]string{"AUTHENTIK_API_URL": "ftp://x"}, "AUTHENTIK_API_URL"},
		"authentik token":  {map[string]string{"AUTHENTIK_API_URL": "http://ak"}, "AUTHENTIK_API_TOKEN"},
		"stalwart token":   {map[string]string{"STALWART_API_URL": "http://mail"}, "STALWART_API_TOKEN"},
		"ocis credentials": {map[string]string{"OCIS_API_URL": "http://ocis"}, "OCIS_CLIENT_ID"},
		"ocis token url":   {map[string]string{"OCIS_TOKEN_URL": "::"}, "OCIS_TOKEN_URL"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, ok := tc.env["AUTH_DISABLED"]; !ok {
				tc.env["AUTH_DISABLED"] = "true"
			}
			_, err := Load(env(tc.env), nil)
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("err = %v, want it to name %s", err, tc.name)
			}
		})
	}
}

func TestMongoPasswordNotEchoed(t *testing.T) {
	_, err := Load(env(map[string]string{"AUTH_DISABLED": "true", "MONGO_URI": "http://user:s3cret@host"}), nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v: want an error without the password", err)
	}
}
