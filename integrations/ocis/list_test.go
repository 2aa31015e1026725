package ocis_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/integrationstest"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
)

// TestSnapshotAnswersAsLiveObserve compares, case by case, the listing's answer for a tenant
// with a live Observe's: equal wherever the snapshot answers; it declines exactly where the
// listing cannot prove the answer.
func TestSnapshotAnswersAsLiveObserve(t *testing.T) {
	converged := func(t *testing.T, e *env) integrations.Desired {
		d := desired()
		mustEnsure(t, e, &d)
		return d
	}
	tenantGroup := func(e *env) ocissim.Group {
		for _, g := range e.sim.Groups() {
			if g.DisplayName == "tenant-acme" {
				return g
			}
		}
		return ocissim.Group{}
	}
	cases := map[string]struct {
		setup  func(t *testing.T, e *env) integrations.Desired
		wantOK bool
	}{
		"in sync, recorded id": {setup: converged, wantOK: true},
		"in sync, found by marker (status lost)": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			d.ExternalID = ""
			return d
		}, wantOK: true},
		"renamed": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			e.sim.SetName(d.ExternalID, "Other")
			return d
		}, wantOK: true},
		"quota": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			e.sim.SetQuota(d.ExternalID, 5)
			return d
		}, wantOK: true},
		"disabled": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			e.sim.DisableDrive(d.ExternalID)
			return d
		}, wantOK: true},
		"suspension to apply": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			d.Suspended = true
			return d
		}, wantOK: true},
		"group deleted": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			e.sim.DeleteGroup(tenantGroup(e).ID)
			return d
		}, wantOK: true},
		"grant revoked": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			e.sim.RevokeGroup(d.ExternalID, tenantGroup(e).ID)
			return d
		}, wantOK: true},
		"grant lowered": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			e.sim.SetGroupRole(d.ExternalID, tenantGroup(e).ID, ocissim.RoleSpaceViewer)
			return d
		}, wantOK: true},
		"two marked spaces": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			e.sim.CreateDriveAs(e.sim.ServiceUserID(), "Acme Inc", integrations.Marker(tenantID))
			d.ExternalID = ""
			return d
		}, wantOK: true},
		"recorded space now another tenant's": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := desired()
			d.ExternalID = e.sim.CreateDriveAs(e.sim.ServiceUserID(), "Other", integrations.Marker(otherTenant)).ID
			return d
		}, wantOK: true},
		"marked space the service account is not a member of": {setup: func(t *testing.T, e *env) integrations.Desired {
			e.sim.CreateDriveOutOfBand("Acme Inc", integrations.Marker(tenantID))
			return desired()
		}, wantOK: false},
		"marker removed (unmarked spaces are not listed)": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			e.sim.SetDescription(d.ExternalID, "")
			return d
		}, wantOK: false},
		"space purged": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			e.sim.DeleteDrive(d.ExternalID)
			return d
		}, wantOK: false},
		"empty upstream": {setup: func(t *testing.T, e *env) integrations.Desired { return desired() }, wantOK: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			d := tc.setup(t, e)
			live, lerr := e.client.Observe(ctx(t), d)
			e.sim.Faults().ResetRecording()
			snap, err := e.client.ObserveAll(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if w := integrationstest.RESTWrites(e.sim.Faults().Requests(), ocissim.TokenPath); len(w) != 0 {
				t.Errorf("the listing wrote: %+v", w)
			}
			if n := len(e.sim.Faults().Requests()); n > 4 {
				t.Errorf("the listing took %d requests, want at most 4 (a token, /me, drives, groups)", n)
			}
			got, ok := snap.Observe(d)
			if ok != tc.wantOK {
				t.Fatalf("snapshot ok = %v, want %v (live: %+v, %v)", ok, tc.wantOK, live, lerr)
			}
			if !ok {
				return
			}
			if lerr != nil {
				t.Fatalf("the snapshot answered where a live Observe failed: %v", lerr)
			}
			if diff := cmp.Diff(live, got, cmpopts.IgnoreFields(integrations.Observation{}, "Object"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("snapshot differs from live Observe (-live +snapshot):\n%s", diff)
			}
		})
	}
}

// TestListingOfManySpacesIsThreeRequests: whatever the number of tenants, the listing is /me,
// the drives and the groups (plus a token).
func TestListingOfManySpacesIsThreeRequests(t *testing.T) {
	e := newEnv(t, envOptions{})
	for i := 0; i < 50; i++ {
		e.sim.CreateDriveAs(e.sim.ServiceUserID(), "T", integrations.Marker(tenantID[:20]+string(rune('a'+i%6))+"000"))
	}
	e.sim.Faults().ResetRecording()
	if _, err := e.client.ObserveAll(ctx(t)); err != nil {
		t.Fatal(err)
	}
	gets := 0
	for _, r := range e.sim.Faults().Requests() {
		if r.Method == http.MethodGet {
			gets++
		}
	}
	if gets != 3 {
		t.Errorf("%d GETs for the listing, want 3", gets)
	}
}
