package stalwart_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
)

// TestSuspendResume: suspension disables the domain (the v0.16 objects' only enable switch) and
// resuming enables it again; a tenant created suspended gets a disabled domain straight away.
func TestSuspendResume(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{})
	d := desired("acme.example")
	d.ExternalID = e.ensure(t, d).ExternalID

	d.Suspended = true
	suspended := e.ensure(t, d)
	dom, _ := e.sim.DomainByName("acme.example")
	gotSuspended := []any{suspended.Action, strings.Contains(suspended.Message, "disabled"), dom.IsEnabled}

	d.Suspended = false
	resumed := e.ensure(t, d)
	dom, _ = e.sim.DomainByName("acme.example")
	gotResumed := []any{resumed.Action, resumed.Message, dom.IsEnabled}

	want := []any{
		[]any{integrations.ActionUpdated, true, false},
		[]any{integrations.ActionUpdated, "", true},
	}
	if diff := cmp.Diff(want, []any{gotSuspended, gotResumed}); diff != "" {
		t.Errorf("[suspend, resume] of [action, message says disabled, domain enabled] (-want +got):\n%s", diff)
	}

	fresh := desired("new.example")
	fresh.Suspended = true
	e.ensure(t, fresh)
	if dom, _ := e.sim.DomainByName("new.example"); dom.IsEnabled {
		t.Error("a domain created for a suspended tenant is enabled")
	}
}

// TestDelete pins the teardown: team account, DKIM signatures, domain; gone objects are success;
// other tenants' and unowned objects are never destroyed.
func TestDelete(t *testing.T) {
	cases := map[string]struct {
		reason  string
		setup   func(t *testing.T, e *env) integrations.Desired
		wantErr string // substring of a permanent error; empty: success
		left    [3]int // domains, accounts, DKIM signatures afterwards
	}{
		"Owned": {
			reason: "the tenant's domain, team account and signatures are destroyed",
			setup: func(t *testing.T, e *env) integrations.Desired {
				d := desired("acme.example")
				d.ExternalID = e.ensure(t, d).ExternalID
				return d
			},
		},
		"OwnedNoRecordedID": {
			reason: "found by name when no id was recorded",
			setup: func(t *testing.T, e *env) integrations.Desired {
				e.ensure(t, desired("acme.example"))
				return desired("acme.example")
			},
		},
		"Adopted": {
			reason: "an adopted domain is destroyed too",
			setup: func(t *testing.T, e *env) integrations.Desired {
				mustSeedDomain(t, e, "")
				d := desired("acme.example")
				d.ExternalID = e.ensure(t, d).ExternalID
				return d
			},
		},
		"Missing": {
			reason: "nothing to delete is success",
			setup:  func(t *testing.T, e *env) integrations.Desired { return desired("acme.example") },
		},
		"MissingRecorded": {
			reason: "a recorded domain already gone is success",
			setup: func(t *testing.T, e *env) integrations.Desired {
				d := desired("acme.example")
				d.ExternalID = e.ensure(t, d).ExternalID
				e.sim.DeleteDomain("acme.example")
				return d
			},
		},
		"TeamGone": {
			reason: "a team account already gone does not stop the domain's teardown",
			setup: func(t *testing.T, e *env) integrations.Desired {
				d := desired("acme.example")
				d.ExternalID = e.ensure(t, d).ExternalID
				e.sim.DeleteAccount("acme.example", "team")
				return d
			},
		},
		"Foreign": {
			reason: "another tenant's domain is never destroyed, and does not block this tenant's teardown",
			setup: func(t *testing.T, e *env) integrations.Desired {
				mustSeedDomain(t, e, integrations.Marker(tenantB))
				return desired("acme.example")
			},
			left: [3]int{1, 0, 0},
		},
		"ForeignRecorded": {
			reason: "a recorded id that now names another tenant's domain is left alone too",
			setup: func(t *testing.T, e *env) integrations.Desired {
				d := desired("acme.example")
				d.ExternalID = mustSeedDomain(t, e, integrations.Marker(tenantB))
				return d
			},
			left: [3]int{1, 0, 0},
		},
		"Unowned": {
			reason: "a domain without marker that this tenant never recorded is left alone",
			setup: func(t *testing.T, e *env) integrations.Desired {
				mustSeedDomain(t, e, "someone's")
				return desired("acme.example")
			},
			left: [3]int{1, 0, 0},
		},
		"UserMailboxes": {
			reason: "a domain still holding mailboxes people created is not forced away (their mail is not ours to destroy) and the teardown completes",
			setup: func(t *testing.T, e *env) integrations.Desired {
				d := desired("acme.example")
				d.ExternalID = e.ensure(t, d).ExternalID
				if _, err := e.sim.CreateAccountOutOfBand("User", "acme.example", "alice", "", 0); err != nil {
					t.Fatal(err)
				}
				return d
			},
			left: [3]int{1, 1, 0},
		},
		"NoDomainNoID": {
			reason: "no mail domain and no recorded id means nothing to do",
			setup:  func(t *testing.T, e *env) integrations.Desired { return desired("") },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, stalwartsim.Options{})
			d := tc.setup(t, e)
			err := e.client.Delete(ctx(t), d)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("%s: %v", tc.reason, err)
			case tc.wantErr != "" && (!integrations.IsPermanent(err) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("%s: error %v, want permanent containing %q", tc.reason, err, tc.wantErr)
			}
			got := [3]int{e.sim.DomainCount(), e.sim.AccountCount(), e.sim.DkimSignatureCount()}
			if diff := cmp.Diff(tc.left, got); diff != "" {
				t.Errorf("%s: [domains, accounts, signatures] left (-want +got):\n%s", tc.reason, diff)
			}
			if tc.wantErr == "" {
				if err := e.client.Delete(ctx(t), d); err != nil {
					t.Errorf("%s: a second Delete: %v", tc.reason, err)
				}
			}
		})
	}
}

// TestDeleteSmallSetLimit: with maxObjectsInSet 1 the two DKIM signatures take more than one
// teardown round inside one Delete, which still succeeds.
func TestDeleteSmallSetLimit(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{MaxObjectsInSet: 1})
	d := desired("acme.example")
	d.ExternalID = e.ensure(t, d).ExternalID
	if err := e.client.Delete(ctx(t), d); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.DomainCount() + e.sim.AccountCount() + e.sim.DkimSignatureCount(); got != 0 {
		t.Errorf("%d objects left", got)
	}
}
