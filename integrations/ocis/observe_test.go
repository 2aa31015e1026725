package ocis_test

import (
	"strconv"
	"testing"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"github.com/dezky/platform-api/integrations/ocis"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
)

// TestObserveReportsEachDriftField injects one kind of drift into the simulator per case and
// checks the whole Observe → Apply → Observe loop: Observe names exactly the drifted fields with
// their want/got and writes nothing; Apply corrects them; a second Observe finds nothing.
func TestObserveReportsEachDriftField(t *testing.T) {
	d0 := desired()
	quota := strconv.FormatInt(d0.StorageQuotaBytes, 10)
	cases := map[string]struct {
		reason  string
		suspend bool
		drift   func(e *env, driveID string)
		want    []integrations.Drift
	}{
		"space": {
			reason: "a purged space is missing, and with it the group's grant (the group itself is still there)",
			drift:  func(e *env, id string) { e.sim.DeleteDrive(id) },
			want: []integrations.Drift{
				{Field: ocis.FieldSpace, Want: "Acme Inc", Got: integrations.Missing},
				{Field: ocis.FieldGrant, Want: "Manager", Got: integrations.Missing},
			},
		},
		"name": {
			reason: "a renamed space", drift: func(e *env, id string) { e.sim.SetName(id, "Hijacked") },
			want: []integrations.Drift{{Field: ocis.FieldName, Want: "Acme Inc", Got: "Hijacked"}},
		},
		"description": {
			reason: "the marker was removed from the recorded space", drift: func(e *env, id string) { e.sim.SetDescription(id, "hand-written") },
			want: []integrations.Drift{{Field: ocis.FieldDescription, Want: integrations.Marker(tenantID), Got: "hand-written"}},
		},
		"quota": {
			reason: "the quota was changed", drift: func(e *env, id string) { e.sim.SetQuota(id, 1) },
			want: []integrations.Drift{{Field: ocis.FieldQuota, Want: quota, Got: "1"}},
		},
		"enabled": {
			reason: "an active tenant's space was disabled (its grant is read once it is restored)",
			drift:  func(e *env, id string) { e.sim.DisableDrive(id) },
			want:   []integrations.Drift{{Field: ocis.FieldEnabled, Want: "true", Got: "false"}},
		},
		"enabled while suspended": {
			reason: "a suspended tenant's space is enabled", suspend: true,
			drift: func(e *env, id string) {},
			want:  []integrations.Drift{{Field: ocis.FieldEnabled, Want: "false", Got: "true"}},
		},
		"group": {
			reason: "the tenant's group was deleted: the group and its grant are missing",
			drift: func(e *env, id string) {
				for _, g := range e.sim.Groups() {
					e.sim.DeleteGroup(g.ID)
				}
			},
			want: []integrations.Drift{
				{Field: ocis.FieldGroup, Want: "tenant-acme", Got: integrations.Missing},
				{Field: ocis.FieldGrant, Want: "Manager", Got: integrations.Missing},
			},
		},
		"grant revoked": {
			reason: "the group lost its grant",
			drift: func(e *env, id string) {
				for _, g := range e.sim.Groups() {
					e.sim.RevokeGroup(id, g.ID)
				}
			},
			want: []integrations.Drift{{Field: ocis.FieldGrant, Want: "Manager", Got: integrations.Missing}},
		},
		"grant lowered": {
			reason: "the group's role was lowered",
			drift: func(e *env, id string) {
				for _, g := range e.sim.Groups() {
					e.sim.SetGroupRole(id, g.ID, ocissim.RoleSpaceViewer)
				}
			},
			want: []integrations.Drift{{Field: ocis.FieldGrant, Want: "Manager", Got: ocissim.RoleSpaceViewer}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			d := desired()
			first := mustEnsure(t, e, &d)
			tc.drift(e, first.ExternalID)
			d.Suspended = tc.suspend

			t.Log(tc.reason)
			integrationstest.DriftRoundTrip(t, ctx(t), e.client, d, tc.want, e.sim.Faults().ResetRecording,
				func() int { return len(integrationstest.RESTWrites(e.sim.Faults().Requests(), ocissim.TokenPath)) })
		})
	}
}

// TestObserveNeverWrites covers the cases where a read-modify-write client would be tempted to
// act: nothing there yet, a space carrying another tenant's marker, a disabled space.
func TestObserveNeverWrites(t *testing.T) {
	cases := map[string]struct {
		setup     func(e *env, d *integrations.Desired)
		wantOwner integrations.Owner
		wantDrift int
	}{
		"nothing exists": {
			setup:     func(e *env, d *integrations.Desired) {},
			wantOwner: integrations.NoOwner, wantDrift: 3, // space, group, grant
		},
		"recorded space carries another tenant's marker": {
			setup: func(e *env, d *integrations.Desired) {
				d.ExternalID = e.sim.CreateDriveOutOfBand("Other", integrations.Marker(otherTenant)).ID
			},
			wantOwner: integrations.Foreign,
		},
		"recorded space lost its marker": {
			setup: func(e *env, d *integrations.Desired) {
				d.ExternalID = e.sim.CreateDriveAs(e.sim.ServiceUserID(), "Acme Inc", "").ID
			},
			wantOwner: integrations.Unmarked, wantDrift: 4, // description, quota, group, grant
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			d := desired()
			tc.setup(e, &d)
			e.sim.Faults().ResetRecording()
			o, err := e.client.Observe(ctx(t), d)
			if err != nil {
				t.Fatalf("Observe: %v", err)
			}
			if o.Owner != tc.wantOwner || len(o.Drift) != tc.wantDrift {
				t.Errorf("Observation owner %s drift %+v, want owner %s and %d entries", o.Owner, o.Drift, tc.wantOwner, tc.wantDrift)
			}
			if w := integrationstest.RESTWrites(e.sim.Faults().Requests(), ocissim.TokenPath); len(w) != 0 {
				t.Errorf("Observe wrote upstream: %+v", w)
			}
		})
	}
}
