package stalwart_test

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/integrationstest"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
	"github.com/dezky/platform-api/integrations/stalwart"
)

// TestObserveReportsEachDriftField injects one kind of drift per case into the simulator:
// Observe names exactly that field with want/got and sends no /set; Apply corrects it; a second
// Observe finds nothing.
func TestObserveReportsEachDriftField(t *testing.T) {
	quota := strconv.FormatInt(5*mailGiB, 10)
	cases := map[string]struct {
		reason  string
		suspend bool
		drift   func(t *testing.T, e *env)
		want    []integrations.Drift
	}{
		"domain": {
			reason: "the domain (and with it the account) was deleted by hand",
			drift: func(t *testing.T, e *env) {
				e.sim.DeleteAccount("acme.example", "team")
				e.sim.DeleteDomain("acme.example")
			},
			want: []integrations.Drift{{Field: stalwart.FieldDomain, Want: "acme.example", Got: integrations.Missing}},
		},
		"description": {
			reason: "the marker was removed from the domain's description",
			drift: func(t *testing.T, e *env) {
				if err := e.sim.SetDomainDescription("acme.example", "hand-made"); err != nil {
					t.Fatal(err)
				}
			},
			want: []integrations.Drift{{Field: stalwart.FieldDescription, Want: integrations.Marker(tenantA), Got: "hand-made"}},
		},
		"enabled": {
			reason: "an active tenant's domain was disabled",
			drift: func(t *testing.T, e *env) {
				if err := e.sim.SetDomainEnabled("acme.example", false); err != nil {
					t.Fatal(err)
				}
			},
			want: []integrations.Drift{{Field: stalwart.FieldEnabled, Want: "true", Got: "false"}},
		},
		"enabled while suspended": {
			reason: "a suspended tenant's domain is still enabled", suspend: true,
			drift: func(t *testing.T, e *env) {},
			want:  []integrations.Drift{{Field: stalwart.FieldEnabled, Want: "false", Got: "true"}},
		},
		"groupAccount": {
			reason: "the team account was deleted",
			drift:  func(t *testing.T, e *env) { e.sim.DeleteAccount("acme.example", "team") },
			want:   []integrations.Drift{{Field: stalwart.FieldGroupAccount, Want: "team@acme.example (Group)", Got: integrations.Missing}},
		},
		"groupAccount unmarked": {
			reason: "the team account lost its marker",
			drift: func(t *testing.T, e *env) {
				if err := e.sim.SetAccountDescription("acme.example", "team", ""); err != nil {
					t.Fatal(err)
				}
			},
			want: []integrations.Drift{{Field: stalwart.FieldGroupAccount, Want: "team@acme.example (Group)", Got: "team@acme.example (unmarked)"}},
		},
		"quota": {
			reason: "the team account's quota was changed",
			drift: func(t *testing.T, e *env) {
				if err := e.sim.SetAccountQuota("acme.example", "team", 1); err != nil {
					t.Fatal(err)
				}
			},
			want: []integrations.Drift{{Field: stalwart.FieldQuota, Want: quota, Got: "1"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, stalwartsim.Options{})
			d := desired("acme.example")
			d.ExternalID = e.ensure(t, d).ExternalID
			tc.drift(t, e)
			d.Suspended = tc.suspend

			t.Log(tc.reason)
			integrationstest.DriftRoundTrip(t, ctx(t), e.client, d, tc.want, e.sim.Faults().ResetRecording,
				func() int { return len(integrationstest.JMAPWrites(e.sim.Faults().Requests())) })
		})
	}
}

// TestObserveNeverWrites: nothing there, another tenant's domain, an unmarked domain, a
// mailbox holding team@: Observe reports each and sends no /set.
func TestObserveNeverWrites(t *testing.T) {
	cases := map[string]struct {
		setup     func(t *testing.T, e *env)
		wantOwner integrations.Owner
		wantDrift []string
	}{
		"missing": {setup: func(*testing.T, *env) {}, wantOwner: integrations.NoOwner, wantDrift: []string{stalwart.FieldDomain}},
		"foreign": {
			setup:     func(t *testing.T, e *env) { mustSeedDomain(t, e, integrations.Marker(tenantB)) },
			wantOwner: integrations.Foreign,
		},
		"unmarked with a mailbox on team@": {
			setup: func(t *testing.T, e *env) {
				mustSeedDomain(t, e, "")
				mustSeedAccount(t, e, "User", "", 0)
			},
			wantOwner: integrations.Unmarked, wantDrift: []string{stalwart.FieldDescription, stalwart.FieldGroupAccount},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, stalwartsim.Options{})
			tc.setup(t, e)
			e.sim.Faults().ResetRecording()
			o, err := e.client.Observe(ctx(t), desired("acme.example"))
			if err != nil {
				t.Fatal(err)
			}
			var fields []string
			for _, dr := range o.Drift {
				fields = append(fields, dr.Field)
			}
			if o.Owner != tc.wantOwner || !cmp.Equal(tc.wantDrift, fields) {
				t.Errorf("owner %s drift %v, want %s %v", o.Owner, fields, tc.wantOwner, tc.wantDrift)
			}
			if w := integrationstest.JMAPWrites(e.sim.Faults().Requests()); len(w) != 0 {
				t.Errorf("Observe wrote upstream: %v", w)
			}
		})
	}
}
