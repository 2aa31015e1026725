package authentik

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dezky/platform-api/integrations"
	authentiksim "github.com/dezky/platform-api/integrations/sim/authentik"
)

const (
	testToken  = "ak-test-token-5f0c1d2e3a"
	tenantID   = "665f1c2ab3d4e5f601234567"
	otherID    = "665f1c2ab3d4e5f6ffffffff"
	ownerEmail = "owner@acme.example"
)

// env is one simulator served over loopback HTTP plus a client pointed at it.
type env struct {
	sim    *authentiksim.Server
	srv    *httptest.Server
	client *Client
}

type envOption func(*Config, *authentiksim.Options)

func withTimeout(d time.Duration) envOption {
	return func(c *Config, _ *authentiksim.Options) { c.HTTP.Timeout = d }
}

func withLogger(l *slog.Logger) envOption {
	return func(c *Config, _ *authentiksim.Options) { c.Logger = l }
}

func withPageSize(n int) envOption {
	return func(_ *Config, o *authentiksim.Options) { o.PageSize = n }
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	cfg := Config{Token: testToken}
	so := authentiksim.Options{Token: testToken}
	for _, o := range opts {
		o(&cfg, &so)
	}
	sim := authentiksim.New(so)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL // a bare host: the client appends /api/v3
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, srv: srv, client: c}
}

func desired() integrations.Desired {
	return integrations.Desired{
		TenantID:   tenantID,
		Slug:       "acme",
		Name:       "Acme Inc",
		Plan:       "starter",
		OwnerEmail: ownerEmail,
	}
}

// ourAttrs are the attributes a converged group carries for desired().
func ourAttrs(suspended bool) map[string]any {
	return map[string]any{
		AttrTenantSlug: "acme",
		AttrTenantID:   tenantID,
		AttrSuspended:  suspended,
	}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// countRequests counts recorded requests with the method whose path ends with suffix.
func countRequests(e *env, method, suffix string) int {
	n := 0
	for _, r := range e.sim.Faults().Requests() {
		if r.Method == method && len(r.Path) >= len(suffix) && r.Path[len(r.Path)-len(suffix):] == suffix {
			n++
		}
	}
	return n
}

func isCreate(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/api/v3/core/groups/"
}
