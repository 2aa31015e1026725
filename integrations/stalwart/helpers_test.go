package stalwart_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"github.com/dezky/platform-api/internal/testlog"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dezky/platform-api/integrations"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
	"github.com/dezky/platform-api/integrations/stalwart"
)

const (
	token   = "s3cr3t-stalwart-api-key"
	tenantA = "65f0c0ffee0000000000aa01"
	tenantB = "65f0c0ffee0000000000bb02"
	mailGiB = int64(1) << 30
)

// env is a simulator on loopback HTTP and a client pointed at it.
type env struct {
	sim    *stalwartsim.Server
	srv    *httptest.Server
	client *stalwart.Client
	logs   *testlog.Buffer
}

// newEnv starts a simulator with opts (token filled in) and a client; mod adjusts the client
// config.
func newEnv(t *testing.T, opts stalwartsim.Options, mod ...func(*stalwart.Config)) *env {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	sim := stalwartsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	logs := &testlog.Buffer{}
	cfg := stalwart.Config{
		BaseURL: srv.URL,
		Token:   token,
		HTTP:    integrations.HTTPOptions{Timeout: 2 * time.Second},
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range mod {
		f(&cfg)
	}
	c, err := stalwart.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, srv: srv, client: c, logs: logs}
}

func desired(domain string) integrations.Desired {
	return integrations.Desired{
		TenantID: tenantA, Slug: "acme", Name: "Acme", Plan: "starter",
		MailDomain: domain, MailQuotaBytes: 5 * mailGiB,
	}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// ensure runs Ensure and fails the test on error.
func (e *env) ensure(t *testing.T, d integrations.Desired) integrations.Observed {
	t.Helper()
	obs, err := integrationstest.Converge(ctx(t), e.client, d)
	if err != nil {
		t.Fatalf("Ensure(%s): %v", d.MailDomain, err)
	}
	return obs
}

// team returns the team account of domain, failing when it is missing.
func (e *env) team(t *testing.T, domain string) stalwartsim.Account {
	t.Helper()
	d, ok := e.sim.DomainByName(domain)
	if !ok {
		t.Fatalf("domain %s missing", domain)
	}
	for _, a := range e.sim.Accounts() {
		if a.DomainID == d.ID && a.Name == "team" {
			return a
		}
	}
	t.Fatalf("team@%s missing", domain)
	return stalwartsim.Account{}
}

// apiCall is one method call recorded by the simulator.
type apiCall struct {
	name string
	args map[string]any
}

// apiRequest is one recorded POST to the JMAP API.
type apiRequest struct {
	using []string
	calls []apiCall
}

// apiRequests decodes every JMAP API request the simulator recorded.
func (e *env) apiRequests(t *testing.T) []apiRequest {
	t.Helper()
	var out []apiRequest
	for _, r := range e.sim.Faults().Requests() {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Path, "/jmap") {
			continue
		}
		var body struct {
			Using       []string `json:"using"`
			MethodCalls [][]json.RawMessage
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("recorded body %q: %v", r.Body, err)
		}
		req := apiRequest{using: body.Using}
		for _, mc := range body.MethodCalls {
			var c apiCall
			_ = json.Unmarshal(mc[0], &c.name)
			_ = json.Unmarshal(mc[1], &c.args)
			req.calls = append(req.calls, c)
		}
		out = append(out, req)
	}
	return out
}

// sessionFetches counts discovery requests.
func (e *env) sessionFetches() int {
	n := 0
	for _, r := range e.sim.Faults().Requests() {
		if r.Path == "/.well-known/jmap" {
			n++
		}
	}
	return n
}

// isCreate matches a recorded API request whose body creates with method.
func isCreate(method string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if r.Method != http.MethodPost {
			return false
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		r.Body = readCloser{bytes.NewReader(buf.Bytes())}
		b := buf.String()
		return strings.Contains(b, `"`+method+`"`) && strings.Contains(b, `"create"`)
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
