package ocis_test

import (
	"context"
	"github.com/dezky/platform-api/internal/testlog"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"github.com/dezky/platform-api/integrations/ocis"
	"github.com/dezky/platform-api/integrations/sim/faults"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
)

const (
	clientID     = "dezky-platform"
	clientSecret = "c1ient-s3cret-do-not-log"
	tenantID     = "65f0c0ffee00000000000001"
	otherTenant  = "65f0c0ffee00000000000002"
)

type env struct {
	sim    *ocissim.Server
	srv    *httptest.Server
	client *ocis.Client
	logs   *testlog.Buffer
}

type envOptions struct {
	sim     ocissim.Options
	secret  string
	timeout time.Duration
	prefix  string
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	o.sim.ClientID, o.sim.ClientSecret = clientID, clientSecret
	sim := ocissim.New(o.sim)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	secret := o.secret
	if secret == "" {
		secret = clientSecret
	}
	timeout := o.timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	logs := &testlog.Buffer{}
	c, err := ocis.New(ocis.Config{
		BaseURL:      srv.URL,
		TokenURL:     ocissim.TokenURL(srv.URL),
		ClientID:     clientID,
		ClientSecret: secret,
		GroupPrefix:  o.prefix,
		HTTP:         integrations.HTTPOptions{Timeout: timeout},
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, srv: srv, client: c, logs: logs}
}

func desired() integrations.Desired {
	return integrations.Desired{
		TenantID:          tenantID,
		Slug:              "acme",
		Name:              "Acme Inc.",
		Plan:              "starter",
		StorageQuotaBytes: 10 << 30,
	}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// mustEnsure runs Ensure and records the external id, as the controller does.
func mustEnsure(t *testing.T, e *env, d *integrations.Desired) integrations.Observed {
	t.Helper()
	obs, err := integrationstest.Converge(ctx(t), e.client, *d)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	d.ExternalID = obs.ExternalID
	return obs
}

// state is what the simulator holds for the tenant, in a form cmp.Diff can compare.
type state struct {
	Spaces int
	Name   string
	Desc   string
	Quota  int64
	// Disabled reports the recorded space's state.
	Disabled bool
	Groups   []string
	// GroupRole is the role the tenant group holds on the recorded space ("" when none).
	GroupRole string
}

func (e *env) state(driveID string) state {
	st := state{Spaces: e.sim.DriveCount()}
	if d, ok := e.sim.Drive(driveID); ok {
		st.Name, st.Desc, st.Quota, st.Disabled = d.Name, d.Description, d.QuotaTotal, d.Disabled
	}
	for _, g := range e.sim.Groups() {
		st.Groups = append(st.Groups, g.DisplayName)
		if g.DisplayName == "tenant-acme" {
			for _, gr := range e.sim.Grants(driveID) {
				if gr.GroupID == g.ID {
					st.GroupRole = gr.RoleID
				}
			}
		}
	}
	return st
}

// converged is the state of a healthy tenant built from desired().
func converged() state {
	return state{
		Spaces:    1,
		Name:      "Acme Inc",
		Desc:      integrations.Marker(tenantID),
		Quota:     10 << 30,
		Groups:    []string{"tenant-acme"},
		GroupRole: ocis.RoleManager,
	}
}

// countRequests counts recorded requests with method whose path ends with suffix.
func (e *env) countRequests(method, suffix string) int {
	n := 0
	for _, r := range e.sim.Faults().Requests() {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func faultsError(status int) faults.Config { return faults.Config{ErrorRate: 1, ErrorStatus: status} }
