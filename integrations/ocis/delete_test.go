package ocis_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
)

func TestDelete(t *testing.T) {
	cases := map[string]struct {
		reason string
		setup  func(t *testing.T, e *env, d *integrations.Desired)
	}{
		"converged tenant": {
			reason: "space disabled, purged, then the group removed",
			setup:  func(t *testing.T, e *env, d *integrations.Desired) { mustEnsure(t, e, d) },
		},
		"suspended tenant": {
			reason: "an already disabled space is purged directly",
			setup: func(t *testing.T, e *env, d *integrations.Desired) {
				d.Suspended = true
				mustEnsure(t, e, d)
			},
		},
		"recorded id lost": {
			reason: "the space is found by its marker",
			setup: func(t *testing.T, e *env, d *integrations.Desired) {
				mustEnsure(t, e, d)
				d.ExternalID = ""
			},
		},
		"space purged out of band": {
			reason: "a missing space is success; the group still goes",
			setup: func(t *testing.T, e *env, d *integrations.Desired) {
				mustEnsure(t, e, d)
				e.sim.DeleteDrive(d.ExternalID)
			},
		},
		"duplicates": {
			reason: "every space carrying the marker goes",
			setup: func(t *testing.T, e *env, d *integrations.Desired) {
				mustEnsure(t, e, d)
				e.sim.CreateDriveOutOfBand("Acme Inc", integrations.Marker(tenantID))
			},
		},
		"never created": {
			reason: "nothing to delete is success",
			setup:  func(*testing.T, *env, *integrations.Desired) {},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			other := e.sim.CreateDriveOutOfBand("Acme Inc", integrations.Marker(otherTenant))
			stranger := e.sim.CreateDriveOutOfBand("Acme Inc", "")
			d := desired()
			tc.setup(t, e, &d)
			e.sim.Faults().ResetRecording()

			if err := e.client.Delete(ctx(t), d); err != nil {
				t.Fatalf("%s: Delete: %v", tc.reason, err)
			}
			var left []string
			for _, sp := range e.sim.Drives() {
				left = append(left, sp.ID)
			}
			if diff := cmp.Diff([]string{other.ID, stranger.ID}, left); diff != "" {
				t.Errorf("%s: spaces left (-want +got):\n%s", tc.reason, diff)
			}
			if g := e.sim.Groups(); len(g) != 0 {
				t.Errorf("%s: groups left: %v", tc.reason, g)
			}
			assertTeardownOrder(t, e)

			// Deleting again finds nothing and succeeds.
			if err := e.client.Delete(ctx(t), d); err != nil {
				t.Errorf("%s: second Delete: %v", tc.reason, err)
			}
		})
	}
}

// assertTeardownOrder checks that the group was removed after every purge. (Disable before
// purge needs no check here: the simulator refuses to purge an enabled space, as oCIS does.)
func assertTeardownOrder(t *testing.T, e *env) {
	t.Helper()
	lastPurge, groupDelete := -1, -1
	for i, r := range e.sim.Faults().Requests() {
		switch {
		case r.Method != http.MethodDelete:
		case strings.Contains(r.Path, "/drives/") && r.Header.Get("Purge") != "":
			lastPurge = i
		case strings.Contains(r.Path, "/groups/"):
			groupDelete = i
		}
	}
	if groupDelete >= 0 && groupDelete < lastPurge {
		t.Error("the group was deleted before a space was purged")
	}
}

func TestDeleteFailureIsClassified(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := desired()
	mustEnsure(t, e, &d)
	e.sim.Faults().Set(faultsError(http.StatusServiceUnavailable))
	if err := e.client.Delete(ctx(t), d); !integrations.IsRetryable(err) {
		t.Fatalf("Delete during an outage: %v, want retryable", err)
	}
	e.sim.Faults().Clear()
	if err := e.client.Delete(ctx(t), d); err != nil {
		t.Fatalf("Delete after the outage: %v", err)
	}
	if e.sim.DriveCount() != 0 {
		t.Errorf("%d spaces left", e.sim.DriveCount())
	}
}
