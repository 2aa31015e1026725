package ocis_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/integrationstest"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
)

// What real oCIS 7.1 does when the service account cannot manage a space (measured on
// loopback): the drive answers 200 to an administrator, its root answers 404 to a non-member
// and 403 to a member below Manager. Retrying never helps; a space manager must act.

// TestSpaceTheServiceAccountIsNotAMemberOf covers a marked space created by another
// administrator: Observe stops with a permanent error that tells the operator to add the
// service account as Manager and names the space; nothing is written; once a space manager
// added it, the next reconcile adopts the space.
func TestSpaceTheServiceAccountIsNotAMemberOf(t *testing.T) {
	cases := map[string]struct {
		reason string
		setup  func(e *env, d *integrations.Desired) string
	}{
		"found by marker": {
			reason: "a marked space someone else created",
			setup: func(e *env, d *integrations.Desired) string {
				return e.sim.CreateDriveOutOfBand("Acme Inc", integrations.Marker(tenantID)).ID
			},
		},
		"recorded id, group already there": {
			reason: "the recorded space, its group existing: the grant cannot be read",
			setup: func(e *env, d *integrations.Desired) string {
				sp := e.sim.CreateDriveOutOfBand("Acme Inc", integrations.Marker(tenantID))
				if _, err := e.sim.AddGroup("tenant-acme"); err != nil {
					t.Fatal(err)
				}
				d.ExternalID = sp.ID
				return sp.ID
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			d := desired()
			id := tc.setup(e, &d)
			e.sim.Faults().ResetRecording()

			_, err := integrationstest.Converge(ctx(t), e.client, d)
			assertAccessError(t, err, id, "not a member", "add it as Manager")
			if w := integrationstest.RESTWrites(e.sim.Faults().Requests(), ocissim.TokenPath); len(w) != 0 {
				t.Errorf("%s: wrote before failing: %+v", tc.reason, w)
			}
			if _, err := integrationstest.Converge(ctx(t), e.client, d); !integrations.IsPermanent(err) {
				t.Errorf("%s: second attempt: %v, want the same permanent error", tc.reason, err)
			}

			// A space manager adds the service account: the space is adopted and corrected.
			e.sim.GrantUser(id, e.sim.ServiceUserID(), ocissim.RoleManager)
			obs := mustEnsure(t, e, &d)
			if obs.ExternalID != id {
				t.Fatalf("%s: after the grant: %+v, want the space %s", tc.reason, obs, id)
			}
			want := converged()
			if diff := cmp.Diff(want, e.state(id)); diff != "" {
				t.Errorf("%s: state (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestSpaceRestoredButNotAMember: a disabled marked space's root is not read by Observe; Apply
// restores it and then meets the 404 on invite, which it reports the same way.
func TestSpaceRestoredButNotAMember(t *testing.T) {
	e := newEnv(t, envOptions{})
	sp := e.sim.CreateDriveOutOfBand("Acme Inc", integrations.Marker(tenantID))
	e.sim.DisableDrive(sp.ID)
	d := desired()
	_, err := integrationstest.Converge(ctx(t), e.client, d)
	assertAccessError(t, err, sp.ID, "not a member", "add it as Manager")
}

// TestMemberBelowManager: as a viewer the service account may read the grants but not give
// Manager; the step says what a space manager must do instead of retrying forever or blaming
// the credentials.
func TestMemberBelowManager(t *testing.T) {
	for _, role := range []string{ocissim.RoleSpaceViewer, ocissim.RoleSpaceEditor} {
		t.Run(role, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			sp := e.sim.CreateDriveOutOfBand("Acme Inc", integrations.Marker(tenantID))
			e.sim.GrantUser(sp.ID, e.sim.ServiceUserID(), role)
			d := desired()
			e.sim.Faults().ResetRecording()
			_, err := integrationstest.Converge(ctx(t), e.client, d)
			assertAccessError(t, err, sp.ID, "not its Manager", "make it Manager")
			if w := integrationstest.RESTWrites(e.sim.Faults().Requests(), ocissim.TokenPath); len(w) != 0 {
				t.Errorf("wrote before failing: %+v", w)
			}
		})
	}
}

// TestDeleteASpaceTheServiceAccountIsNotAMemberOf: an administrator may disable and purge any
// space, so teardown works without membership.
func TestDeleteASpaceTheServiceAccountIsNotAMemberOf(t *testing.T) {
	e := newEnv(t, envOptions{})
	sp := e.sim.CreateDriveOutOfBand("Acme Inc", integrations.Marker(tenantID))
	d := desired()
	d.ExternalID = sp.ID
	if err := e.client.Delete(ctx(t), d); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, ok := e.sim.Drive(sp.ID); ok {
		t.Error("the space is still there")
	}
}

func assertAccessError(t *testing.T, err error, spaceID string, words ...string) {
	t.Helper()
	if !integrations.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	// Operators read the error, owners read Describe: both name the space and the remedy.
	for _, text := range []string{err.Error(), integrations.Describe("file server", err)} {
		for _, w := range append([]string{spaceID}, words...) {
			if !strings.Contains(text, w) {
				t.Errorf("%q does not say %q", text, w)
			}
		}
	}
}

// TestInviteWhileTheIdentityCacheLags: in a multi-replica oCIS a group just created may be
// unknown to sharing for a while (400 "itemNotFound: not found"); that is retryable, and a
// later attempt grants the role.
func TestInviteWhileTheIdentityCacheLags(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.sim.SetGroupLookupLag(300 * time.Millisecond)
	d := desired()
	obs, err := integrationstest.Converge(ctx(t), e.client, d)
	var ie *integrations.Error
	if !integrations.IsRetryable(err) || !errors.As(err, &ie) || ie.Status != 400 {
		t.Fatalf("first attempt: %+v, %v: want a retryable 400", obs, err)
	}
	d.ExternalID = obs.ExternalID
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err = integrationstest.Converge(ctx(t), e.client, d); err == nil {
			break
		}
		if !integrations.IsRetryable(err) || time.Now().After(deadline) {
			t.Fatalf("retry: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if diff := cmp.Diff(converged(), e.state(d.ExternalID)); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
}

// TestFreshTokenRefusedDuringKeyRollover: oCIS refetches the IdP's keys at most once a minute,
// so right after a key rotation even a fresh token is refused for a while.
func TestFreshTokenRefusedDuringKeyRollover(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := desired()
	mustEnsure(t, e, &d)
	// The IdP rotated its key and our cached token expired: the fresh token is refused until oCIS
	// refetched the keys. That is retryable, then works.
	e.sim.ExpireTokens()
	e.sim.RotateIssuerKeys(300 * time.Millisecond)
	_, err := integrationstest.Converge(ctx(t), e.client, d)
	var ie *integrations.Error
	if !integrations.IsRetryable(err) || !errors.As(err, &ie) || ie.Status != 401 {
		t.Fatalf("during the rollover: %v, want a retryable 401", err)
	}
	if got := integrations.Describe("file server", err); !strings.Contains(got, "credentials") {
		t.Errorf("owners read %q: want it to name the credentials", got)
	}
	eventually(t, 5*time.Second, "the new key is accepted", func() bool {
		_, err := integrationstest.Converge(ctx(t), e.client, d)
		return err == nil
	})
}

// TestQuotaNeverNegative: a negative quota breaks an oCIS space until a valid one is set (500,
// then 404 on every read), so a non-positive desired quota is never sent: oCIS's default stays.
func TestQuotaNeverNegative(t *testing.T) {
	for _, q := range []int64{0, -1, -5} {
		e := newEnv(t, envOptions{})
		d := desired()
		d.StorageQuotaBytes = q
		obs := mustEnsure(t, e, &d)
		sp, _ := e.sim.Drive(obs.ExternalID)
		if sp.Corrupt || sp.QuotaTotal != ocissim.DefaultQuota {
			t.Errorf("quota %d: space %+v, want oCIS's default quota", q, sp)
		}
		for _, r := range e.sim.Faults().Requests() {
			if strings.Contains(string(r.Body), `"quota"`) {
				t.Errorf("quota %d: a quota was sent: %s %s %s", q, r.Method, r.Path, r.Body)
			}
		}
	}
}
