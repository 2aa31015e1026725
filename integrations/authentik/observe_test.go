package authentik

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/integrationstest"
)

// TestObserveReportsEachDriftField injects one kind of drift per case into the simulator:
// Observe names exactly that field with want/got and writes nothing; Apply corrects it; a
// second Observe finds nothing.
func TestObserveReportsEachDriftField(t *testing.T) {
	cases := map[string]struct {
		reason  string
		suspend bool
		drift   func(e *env, ownerPK int)
		want    []integrations.Drift
	}{
		"group missing": {
			reason: "the group was deleted by hand",
			drift:  func(e *env, _ int) { e.sim.DeleteGroupOutOfBand("tenant-acme") },
			want:   []integrations.Drift{{Field: FieldGroup, Want: "tenant-acme", Got: integrations.Missing}},
		},
		"group renamed": {
			reason: "the recorded group was renamed",
			drift:  func(e *env, _ int) { e.sim.RenameGroupOutOfBand("tenant-acme", "acme-old") },
			want:   []integrations.Drift{{Field: FieldGroup, Want: "tenant-acme", Got: "acme-old"}},
		},
		"attributes": {
			reason: "the slug attribute was changed",
			drift: func(e *env, _ int) {
				e.sim.SetGroupAttributes("tenant-acme", map[string]any{AttrTenantSlug: "other", AttrTenantID: tenantID, AttrSuspended: false})
			},
			want: []integrations.Drift{{Field: FieldAttributes,
				Want: "dezkyTenantId=" + tenantID + ", dezkyTenantSlug=acme",
				Got:  "dezkyTenantId=" + tenantID + ", dezkyTenantSlug=other"}},
		},
		"suspended": {
			reason: "the tenant was suspended; the group still says it is not", suspend: true,
			drift: func(e *env, _ int) {},
			want:  []integrations.Drift{{Field: FieldSuspended, Want: "true", Got: "false"}},
		},
		"owner": {
			reason: "the owner was removed from the group",
			drift:  func(e *env, pk int) { e.sim.RemoveMemberOutOfBand("tenant-acme", pk) },
			want:   []integrations.Drift{{Field: FieldOwner, Want: ownerEmail, Got: "not a member"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			owner := e.sim.AddUser("owner", ownerEmail)
			d := desired()
			first, err := integrationstest.Converge(ctx(t), e.client, d)
			if err != nil {
				t.Fatal(err)
			}
			d.ExternalID = first.ExternalID
			tc.drift(e, owner)
			d.Suspended = tc.suspend

			t.Log(tc.reason)
			integrationstest.DriftRoundTrip(t, ctx(t), e.client, d, tc.want, e.sim.Faults().ResetRecording,
				func() int { return len(integrationstest.RESTWrites(e.sim.Faults().Requests())) })
		})
	}
}

// TestObserveNeverWrites covers a missing group, another tenant's group and an unmarked group
// (what an operator importing Node-era tenants meets): Observe reports them and writes nothing.
func TestObserveNeverWrites(t *testing.T) {
	cases := map[string]struct {
		attrs     map[string]any // nil: no group at all
		wantOwner integrations.Owner
		wantDrift []string
	}{
		"missing":  {wantOwner: integrations.NoOwner, wantDrift: []string{FieldGroup}},
		"foreign":  {attrs: map[string]any{AttrTenantID: otherID}, wantOwner: integrations.Foreign},
		"unmarked": {attrs: map[string]any{"policy": "strict"}, wantOwner: integrations.Unmarked, wantDrift: []string{FieldAttributes, FieldSuspended}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			if tc.attrs != nil {
				if _, err := e.sim.CreateGroupOutOfBand("tenant-acme", tc.attrs); err != nil {
					t.Fatal(err)
				}
			}
			d := desired()
			d.OwnerEmail = ""
			e.sim.Faults().ResetRecording()
			o, err := e.client.Observe(ctx(t), d)
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
			if w := integrationstest.RESTWrites(e.sim.Faults().Requests()); len(w) != 0 {
				t.Errorf("Observe wrote upstream: %+v", w)
			}
		})
	}
}
