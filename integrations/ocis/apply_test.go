package ocis_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/integrationstest"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
)

func TestName(t *testing.T) {
	e := newEnv(t, envOptions{})
	if e.client.Name() != "ocis" {
		t.Errorf("Name() = %q", e.client.Name())
	}
}

func TestEnsureCreates(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := desired()
	obs := mustEnsure(t, e, &d)
	if obs.Action != integrations.ActionCreated || obs.ExternalID == "" {
		t.Fatalf("Observed = %+v, want created with an external id", obs)
	}
	if diff := cmp.Diff(converged(), e.state(obs.ExternalID)); diff != "" {
		t.Errorf("upstream state (-want +got):\n%s", diff)
	}
	if n := e.countRequests(http.MethodPost, "/root/invite"); n != 1 {
		t.Errorf("%d invites, want exactly one", n)
	}
}

func TestEnsureIsIdempotent(t *testing.T) {
	cases := map[string]struct {
		reason     string
		forgetID   bool
		wantAction integrations.Action
	}{
		"recorded id":    {reason: "found by the recorded drive id, nothing to do", wantAction: integrations.ActionUnchanged},
		"no recorded id": {reason: "found by marker (status lost): in sync, its id reported, never a second space", forgetID: true, wantAction: integrations.ActionUnchanged},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			d := desired()
			first := mustEnsure(t, e, &d)
			if tc.forgetID {
				d.ExternalID = ""
			}
			e.sim.Faults().ResetRecording()
			second := mustEnsure(t, e, &d)
			if second.Action != tc.wantAction || second.ExternalID != first.ExternalID {
				t.Errorf("%s: second Observed = %+v, want %s on %s", tc.reason, second, tc.wantAction, first.ExternalID)
			}
			if diff := cmp.Diff(converged(), e.state(first.ExternalID)); diff != "" {
				t.Errorf("%s: upstream state (-want +got):\n%s", tc.reason, diff)
			}
			for _, r := range e.sim.Faults().Requests() {
				if r.Method != http.MethodGet && r.Path != ocissim.TokenPath {
					t.Errorf("%s: a stable Ensure wrote upstream: %s %s", tc.reason, r.Method, r.Path)
				}
			}
		})
	}
}

// TestLostResponses drops the answer of each write the step makes; the retried Ensure must
// find what the lost call created instead of making it twice.
func TestLostResponses(t *testing.T) {
	cases := map[string]struct {
		method, path string
	}{
		"create space": {method: http.MethodPost, path: "/graph/v1.0/drives"},
		"create group": {method: http.MethodPost, path: "/graph/v1.0/groups"},
		"invite":       {method: http.MethodPost, path: "/root/invite"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			d := desired()
			e.sim.Faults().DropResponseOnce(func(r *http.Request) bool {
				return r.Method == tc.method && strings.HasSuffix(r.URL.Path, tc.path)
			})
			_, err := integrationstest.Converge(ctx(t), e.client, d)
			if !integrations.IsRetryable(err) {
				t.Fatalf("lost response: err = %v, want retryable", err)
			}
			obs := mustEnsure(t, e, &d)
			if diff := cmp.Diff(converged(), e.state(obs.ExternalID)); diff != "" {
				t.Errorf("after the retry (-want +got):\n%s", diff)
			}
			if n := e.countRequests(tc.method, tc.path); n != 1 {
				t.Errorf("%s %s sent %d times, want once (the retry must find it)", tc.method, tc.path, n)
			}
		})
	}
}

func TestEnsureRepairsDrift(t *testing.T) {
	cases := map[string]struct {
		reason     string
		drift      func(e *env, driveID string)
		wantAction integrations.Action
		newSpace   bool
	}{
		"space purged": {
			reason: "a purged space is recreated (the recorded id answers 404)",
			drift:  func(e *env, id string) { e.sim.DeleteDrive(id) }, wantAction: integrations.ActionCreated, newSpace: true,
		},
		"quota changed": {
			reason: "the quota is set back", drift: func(e *env, id string) { e.sim.SetQuota(id, 1) }, wantAction: integrations.ActionUpdated,
		},
		"renamed": {
			reason: "the name is set back", drift: func(e *env, id string) { e.sim.SetName(id, "Hijacked") }, wantAction: integrations.ActionUpdated,
		},
		"marker removed": {
			reason: "the marker is written again on the recorded space", drift: func(e *env, id string) { e.sim.SetDescription(id, "") }, wantAction: integrations.ActionUpdated,
		},
		"disabled": {
			reason: "a disabled space of an active tenant is restored", drift: func(e *env, id string) { e.sim.DisableDrive(id) }, wantAction: integrations.ActionUpdated,
		},
		"grant revoked": {
			reason: "the group is invited again",
			drift: func(e *env, id string) {
				for _, g := range e.sim.Groups() {
					e.sim.RevokeGroup(id, g.ID)
				}
			},
			wantAction: integrations.ActionUpdated,
		},
		"role lowered": {
			reason: "the group's role is raised back to Manager",
			drift: func(e *env, id string) {
				for _, g := range e.sim.Groups() {
					e.sim.SetGroupRole(id, g.ID, ocissim.RoleSpaceViewer)
				}
			},
			wantAction: integrations.ActionUpdated,
		},
		"group deleted": {
			reason: "the group is recreated and granted",
			drift: func(e *env, id string) {
				for _, g := range e.sim.Groups() {
					e.sim.DeleteGroup(g.ID)
				}
			},
			wantAction: integrations.ActionUpdated,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			d := desired()
			first := mustEnsure(t, e, &d)
			tc.drift(e, first.ExternalID)
			obs := mustEnsure(t, e, &d)
			if obs.Action != tc.wantAction {
				t.Errorf("%s: action %s, want %s", tc.reason, obs.Action, tc.wantAction)
			}
			if (obs.ExternalID != first.ExternalID) != tc.newSpace {
				t.Errorf("%s: external id %s -> %s", tc.reason, first.ExternalID, obs.ExternalID)
			}
			if diff := cmp.Diff(converged(), e.state(obs.ExternalID)); diff != "" {
				t.Errorf("%s: upstream state (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDesiredChanges(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := desired()
	mustEnsure(t, e, &d)
	d.Name = "Acme: Renamed / Now?"
	d.StorageQuotaBytes = 100 << 30
	obs := mustEnsure(t, e, &d)
	want := converged()
	want.Name, want.Quota = "Acme Renamed  Now", 100<<30
	if diff := cmp.Diff(want, e.state(obs.ExternalID)); diff != "" || obs.Action != integrations.ActionUpdated {
		t.Errorf("plan and name change (action %s; -want +got):\n%s", obs.Action, diff)
	}
}

func TestForeignSpaces(t *testing.T) {
	t.Run("same name, another tenant's marker", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		foreign := e.sim.CreateDriveOutOfBand("Acme Inc", integrations.Marker(otherTenant))
		grants := e.sim.Grants(foreign.ID)
		d := desired()
		obs := mustEnsure(t, e, &d)
		if obs.ExternalID == foreign.ID || obs.Action != integrations.ActionCreated {
			t.Fatalf("Observed %+v: the foreign space must not be adopted", obs)
		}
		if got, _ := e.sim.Drive(foreign.ID); got != foreign {
			t.Errorf("foreign space was touched: %+v", got)
		}
		if diff := cmp.Diff(grants, e.sim.Grants(foreign.ID)); diff != "" {
			t.Errorf("foreign space's grants changed (-before +after):\n%s", diff)
		}
	})
	t.Run("same name, unmarked", func(t *testing.T) {
		// Names are not unique in oCIS: an unmarked space of the same name may be anyone's.
		e := newEnv(t, envOptions{})
		stranger := e.sim.CreateDriveOutOfBand("Acme Inc", "")
		d := desired()
		obs := mustEnsure(t, e, &d)
		if obs.ExternalID == stranger.ID || e.sim.DriveCount() != 2 {
			t.Fatalf("Observed %+v, %d spaces: an unmarked space must not be adopted by name", obs, e.sim.DriveCount())
		}
		if got, _ := e.sim.Drive(stranger.ID); got.Description != "" {
			t.Errorf("unmarked space was marked: %+v", got)
		}
	})
	t.Run("recorded id now carries another tenant's marker", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		foreign := e.sim.CreateDriveOutOfBand("Other", integrations.Marker(otherTenant))
		d := desired()
		d.ExternalID = foreign.ID
		_, err := integrationstest.Converge(ctx(t), e.client, d)
		if !integrations.IsPermanent(err) || !strings.Contains(err.Error(), otherTenant) {
			t.Fatalf("err = %v, want permanent naming the other tenant", err)
		}
		if e.sim.DriveCount() != 1 || len(e.sim.Groups()) != 0 {
			t.Errorf("something was created: %d spaces, groups %v", e.sim.DriveCount(), e.sim.Groups())
		}
		if got, _ := e.sim.Drive(foreign.ID); got != foreign {
			t.Errorf("foreign space changed: %+v", got)
		}
		if err := e.client.Delete(ctx(t), d); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, ok := e.sim.Drive(foreign.ID); !ok {
			t.Error("Delete removed another tenant's space")
		}
	})
}

func TestSuspendResume(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := desired()
	created := mustEnsure(t, e, &d)

	d.Suspended = true
	obs := mustEnsure(t, e, &d)
	want := converged()
	want.Disabled = true
	if diff := cmp.Diff(want, e.state(created.ExternalID)); diff != "" || obs.Action != integrations.ActionUpdated || obs.Message == "" {
		t.Errorf("suspend: %+v (-want +got):\n%s", obs, diff)
	}
	if again := mustEnsure(t, e, &d); again.Action != integrations.ActionUnchanged {
		t.Errorf("suspended twice: action %s, want unchanged", again.Action)
	}
	if n := e.countRequests(http.MethodDelete, "/drives/"+created.ExternalID); n != 1 {
		t.Errorf("%d disable calls, want 1", n)
	}

	d.Suspended = false
	obs = mustEnsure(t, e, &d)
	if diff := cmp.Diff(converged(), e.state(created.ExternalID)); diff != "" || obs.Action != integrations.ActionUpdated || obs.ExternalID != created.ExternalID {
		t.Errorf("resume: %+v (-want +got):\n%s", obs, diff)
	}
	if e.sim.DriveCount() != 1 {
		t.Errorf("%d spaces after suspend/resume", e.sim.DriveCount())
	}
}

func TestEnsureSuspendedFromTheStart(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := desired()
	d.Suspended = true
	obs := mustEnsure(t, e, &d)
	if got, _ := e.sim.Drive(obs.ExternalID); obs.Action != integrations.ActionCreated || !got.Disabled {
		t.Errorf("a tenant suspended at creation: %+v, space %+v: want created and disabled", obs, got)
	}
}

func TestEnsureRefusesBadDesired(t *testing.T) {
	e := newEnv(t, envOptions{})
	cases := map[string]integrations.Desired{
		"no tenant id":  {Slug: "acme", Name: "A"},
		"bad tenant id": {TenantID: "not-hex!", Slug: "acme", Name: "A"},
		"no slug":       {TenantID: tenantID, Name: "A"},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := integrationstest.Converge(ctx(t), e.client, d); !integrations.IsPermanent(err) {
				t.Errorf("Ensure: %v, want permanent", err)
			}
			if err := e.client.Delete(ctx(t), d); !integrations.IsPermanent(err) {
				t.Errorf("Delete: %v, want permanent (an empty marker would match every tenant)", err)
			}
		})
	}
	if n := len(e.sim.Faults().Requests()); n != 0 {
		t.Errorf("%d upstream calls for invalid input", n)
	}
}

func TestSeveralMarkedSpaces(t *testing.T) {
	e := newEnv(t, envOptions{})
	// Our own duplicates (two replicas raced, or a create was retried by hand): the service
	// account made both, so it manages both.
	a := e.sim.CreateDriveAs(e.sim.ServiceUserID(), "Acme Inc", integrations.Marker(tenantID))
	b := e.sim.CreateDriveAs(e.sim.ServiceUserID(), "Acme Inc", integrations.Marker(tenantID))
	e.sim.DisableDrive(a.ID)
	d := desired()
	obs := mustEnsure(t, e, &d)
	if obs.ExternalID != b.ID || !strings.Contains(obs.Message, "1 more") {
		t.Errorf("Observed %+v: want the enabled marked space %s and a note about the other", obs, b.ID)
	}
	if again := mustEnsure(t, e, &d); again.ExternalID != b.ID {
		t.Errorf("the choice moved to %s", again.ExternalID)
	}
}
