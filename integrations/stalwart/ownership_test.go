package stalwart_test

import (
	"github.com/dezky/platform-api/integrations/integrationstest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
)

// TestOwnership pins the marker rule (docs/ARCHITECTURE.md, "Ownership markers and adoption") on the domain and the team account: adopt an
// object without any marker (writing ours), refuse one with another tenant's marker and change
// nothing.
func TestOwnership(t *testing.T) {
	foreign := integrations.Marker(tenantB)
	cases := map[string]struct {
		reason    string
		seed      func(t *testing.T, e *env)
		wantErr   string // substring of a permanent error; empty: success
		want      integrations.Action
		domDesc   string
		teamDesc  string
		wantTeams int
	}{
		"ForeignDomain": {
			reason:  "a domain carrying another tenant's marker is not adopted",
			seed:    func(t *testing.T, e *env) { mustSeedDomain(t, e, foreign) },
			wantErr: "belongs to another tenant",
			domDesc: foreign,
		},
		"UnmarkedDomain": {
			reason:    "a domain without a marker is adopted; its text is kept",
			seed:      func(t *testing.T, e *env) { mustSeedDomain(t, e, "legacy mail") },
			want:      integrations.ActionCreated, // the team account is new
			domDesc:   "legacy mail " + integrations.Marker(tenantA),
			teamDesc:  integrations.Marker(tenantA),
			wantTeams: 1,
		},
		"UnmarkedTeam": {
			reason: "a team group without a marker on an unmarked domain is adopted with it",
			seed: func(t *testing.T, e *env) {
				mustSeedDomain(t, e, "")
				mustSeedAccount(t, e, "Group", "", 1)
			},
			want:      integrations.ActionAdopted,
			domDesc:   integrations.Marker(tenantA),
			teamDesc:  integrations.Marker(tenantA),
			wantTeams: 1,
		},
		"ForeignTeam": {
			reason: "a team group carrying another tenant's marker is not adopted",
			seed: func(t *testing.T, e *env) {
				mustSeedDomain(t, e, integrations.Marker(tenantA))
				mustSeedAccount(t, e, "Group", foreign, 1)
			},
			wantErr:   "belongs to another tenant",
			domDesc:   integrations.Marker(tenantA),
			teamDesc:  foreign,
			wantTeams: 1,
		},
		"TeamIsUser": {
			reason: "a User account holding team@ is a conflict, not adopted",
			seed: func(t *testing.T, e *env) {
				mustSeedDomain(t, e, integrations.Marker(tenantA))
				mustSeedAccount(t, e, "User", "", 1)
			},
			wantErr:   "User account",
			domDesc:   integrations.Marker(tenantA),
			wantTeams: 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, stalwartsim.Options{})
			tc.seed(t, e)
			obs, err := integrationstest.Converge(ctx(t), e.client, desired("acme.example"))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("%s: %v", tc.reason, err)
			case tc.wantErr != "" && (!integrations.IsPermanent(err) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("%s: error %v, want permanent containing %q", tc.reason, err, tc.wantErr)
			case tc.wantErr == "" && obs.Action != tc.want:
				t.Errorf("%s: action %s, want %s", tc.reason, obs.Action, tc.want)
			}
			dom, _ := e.sim.DomainByName("acme.example")
			var teamDesc string
			for _, a := range e.sim.Accounts() {
				teamDesc = a.Description
			}
			got := []any{e.sim.DomainCount(), dom.Description, e.sim.AccountCount(), teamDesc}
			want := []any{1, tc.domDesc, tc.wantTeams, tc.teamDesc}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: [domains, domain description, accounts, team description] (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func mustSeedDomain(t *testing.T, e *env, description string) string {
	t.Helper()
	id, err := e.sim.CreateDomainOutOfBand("acme.example", description)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustSeedAccount(t *testing.T, e *env, typ, description string, quota int64) {
	t.Helper()
	if _, err := e.sim.CreateAccountOutOfBand(typ, "acme.example", "team", description, quota); err != nil {
		t.Fatal(err)
	}
}

// TestAliasTaken: the domain name is another domain's alias; the primaryKeyViolation's objectId
// names that other domain, which must not be adopted as ours.
func TestAliasTaken(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{})
	if _, err := e.sim.CreateDomainOutOfBand("main.example", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetDomainAliases("main.example", "acme.example"); err != nil {
		t.Fatal(err)
	}
	_, err := integrationstest.Converge(ctx(t), e.client, desired("acme.example"))
	if !integrations.IsPermanent(err) || !strings.Contains(err.Error(), "taken by domain main.example") {
		t.Fatalf("Ensure of an alias: %v, want permanent 'taken by domain main.example'", err)
	}
	if d, _ := e.sim.DomainByName("main.example"); e.sim.DomainCount() != 1 || d.Description != "" {
		t.Errorf("%d domains, main.example description %q; want 1 and untouched", e.sim.DomainCount(), d.Description)
	}
}
