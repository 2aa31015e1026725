package authentik

import (
	"github.com/dezky/platform-api/integrations/integrationstest"
	"testing"

	"github.com/dezky/platform-api/integrations/apispec"
)

// TestRequestsFollowTheAPIDocument runs a full flow (create, owner lookup and add, adoption,
// drift repair, suspension, rename, delete) and validates every request the client sent
// against Authentik's own OpenAPI document: operations exist, query parameters and body
// properties are declared, bodies match their schemas.
func TestRequestsFollowTheAPIDocument(t *testing.T) {
	// Loading the 90,000-line document dominates this package's run time; let the rest overlap.
	t.Parallel()
	p := apispec.Path(t, "authentik-schema.yml")
	e := newEnv(t)
	v, err := apispec.Load(p, e.srv.URL+"/api/v3")
	if err != nil {
		t.Fatal(err)
	}
	owner := e.sim.AddUser("owner", ownerEmail)

	// Adopt an unmarked group, then converge and drift.
	if _, err := e.sim.CreateGroupOutOfBand("tenant-acme", map[string]any{"x": "y"}); err != nil {
		t.Fatal(err)
	}
	d := ensured(t, e)
	e.sim.RemoveMemberOutOfBand("tenant-acme", owner)
	e.sim.RenameGroupOutOfBand("tenant-acme", "moved")
	d.Suspended = true
	if _, err := integrationstest.Converge(ctx(t), e.client, d); err != nil {
		t.Fatal(err)
	}
	e.sim.DeleteGroupOutOfBand("tenant-acme")
	if _, err := integrationstest.Converge(ctx(t), e.client, d); err != nil {
		t.Fatal(err)
	}
	d.ExternalID = ""
	if err := e.client.Delete(ctx(t), d); err != nil {
		t.Fatal(err)
	}

	reqs := e.sim.Faults().Requests()
	seen := map[string]bool{}
	for _, r := range reqs {
		seen[r.Method] = true
		if err := v.Validate(e.srv.URL, r); err != nil {
			t.Errorf("%v", err)
		}
	}
	for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
		if !seen[m] {
			t.Errorf("the flow sent no %s request; it does not cover the client", m)
		}
	}
}
