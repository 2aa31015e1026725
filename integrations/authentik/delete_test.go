package authentik

import (
	"github.com/dezky/platform-api/integrations/integrationstest"
	"net/http"
	"testing"

	"github.com/dezky/platform-api/integrations"
)

func TestDelete(t *testing.T) {
	cases := map[string]struct {
		reason      string
		setup       func(t *testing.T, e *env) integrations.Desired
		wantDeleted bool
		wantGroups  int
	}{
		"by recorded id": {
			reason: "the recorded group is deleted",
			setup: func(t *testing.T, e *env) integrations.Desired {
				return ensured(t, e)
			},
			wantDeleted: true,
		},
		"by recorded id after a rename": {
			reason: "the recorded id finds the group whatever its name",
			setup: func(t *testing.T, e *env) integrations.Desired {
				d := ensured(t, e)
				e.sim.RenameGroupOutOfBand("tenant-acme", "renamed")
				return d
			},
			wantDeleted: true,
		},
		"by name with our marker": {
			reason: "without a recorded id, the named group carrying our marker is ours",
			setup: func(t *testing.T, e *env) integrations.Desired {
				d := ensured(t, e)
				d.ExternalID = ""
				return d
			},
			wantDeleted: true,
		},
		"missing": {
			reason: "nothing to delete is success",
			setup: func(t *testing.T, e *env) integrations.Desired {
				return desired()
			},
		},
		"already gone": {
			reason: "the recorded group vanished: success",
			setup: func(t *testing.T, e *env) integrations.Desired {
				d := ensured(t, e)
				e.sim.DeleteGroupOutOfBand("tenant-acme")
				return d
			},
		},
		"foreign marker by name": {
			reason: "a group carrying another tenant's marker is never deleted",
			setup: func(t *testing.T, e *env) integrations.Desired {
				e.sim.CreateGroupOutOfBand("tenant-acme", map[string]any{AttrTenantID: integrations.Marker(otherID)})
				return desired()
			},
			wantGroups: 1,
		},
		"foreign marker by recorded id": {
			reason: "not even when its id was recorded",
			setup: func(t *testing.T, e *env) integrations.Desired {
				d := ensured(t, e)
				e.sim.SetGroupAttributes("tenant-acme", map[string]any{AttrTenantID: integrations.Marker(otherID)})
				return d
			},
			wantGroups: 1,
		},
		"unmarked by name": {
			reason: "a group we never marked is somebody else's",
			setup: func(t *testing.T, e *env) integrations.Desired {
				e.sim.CreateGroupOutOfBand("tenant-acme", map[string]any{"hand": "made"})
				return desired()
			},
			wantGroups: 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			d := tc.setup(t, e)
			e.sim.Faults().ResetRecording()
			if err := e.client.Delete(ctx(t), d); err != nil {
				t.Fatalf("%s\nDelete: %v", tc.reason, err)
			}
			if n := e.sim.GroupCount(); n != tc.wantGroups {
				t.Errorf("%s\nGroupCount = %d, want %d", tc.reason, n, tc.wantGroups)
			}
			deletes := countRequests(e, http.MethodDelete, "/")
			if tc.wantDeleted != (deletes == 1) {
				t.Errorf("%s\nDELETE requests = %d", tc.reason, deletes)
			}
			// Repeating a delete is always success.
			if err := e.client.Delete(ctx(t), d); err != nil {
				t.Errorf("second Delete: %v", err)
			}
		})
	}
}

func TestDeleteFailureIsClassified(t *testing.T) {
	e := newEnv(t)
	d := ensured(t, e)
	e.sim.Faults().DropResponseOnce(func(r *http.Request) bool { return r.Method == http.MethodDelete })
	if err := e.client.Delete(ctx(t), d); !integrations.IsRetryable(err) {
		t.Fatalf("lost delete response: err = %v, want retryable", err)
	}
	// The delete was carried out; the retry finds nothing and succeeds.
	if err := e.client.Delete(ctx(t), d); err != nil {
		t.Fatalf("retried Delete: %v", err)
	}
	if e.sim.GroupCount() != 0 {
		t.Errorf("GroupCount = %d, want 0", e.sim.GroupCount())
	}
}

// ensured creates the tenant's group and returns the desired state with its recorded id.
func ensured(t *testing.T, e *env) integrations.Desired {
	t.Helper()
	d := desired()
	obs, err := integrationstest.Converge(ctx(t), e.client, d)
	if err != nil {
		t.Fatal(err)
	}
	d.ExternalID = obs.ExternalID
	return d
}
