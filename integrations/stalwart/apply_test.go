package stalwart_test

import (
	"fmt"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/sim/faults"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
)

func TestName(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{})
	if got := e.client.Name(); got != "stalwart" {
		t.Errorf("Name() = %q, want stalwart", got)
	}
}

func TestSkippedWithoutMailDomain(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{})
	o, err := e.client.Observe(ctx(t), desired(""))
	if err != nil || !o.Skipped || e.sim.Faults().Calls() != 0 {
		t.Errorf("Observe without a mail domain: %+v, %v after %d upstream calls; want skipped and none", o, err, e.sim.Faults().Calls())
	}
}

func TestEnsureCreates(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{})
	obs := e.ensure(t, desired("Acme.Example"))

	dom, ok := e.sim.DomainByName("acme.example")
	if !ok {
		t.Fatal("domain not created")
	}
	want := integrations.Observed{ExternalID: dom.ID, Action: integrations.ActionCreated}
	if diff := cmp.Diff(want, obs); diff != "" {
		t.Errorf("Observed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(stalwartsim.Domain{ID: dom.ID, Name: "acme.example", Description: integrations.Marker(tenantA),
		IsEnabled: true}, dom); diff != "" {
		t.Errorf("domain (-want +got):\n%s", diff)
	}
	team := e.team(t, "acme.example")
	if diff := cmp.Diff(stalwartsim.Account{ID: team.ID, Type: "Group", Name: "team", DomainID: dom.ID,
		Description: integrations.Marker(tenantA), MaxDiskQuota: 5 * mailGiB, HasDiskQuota: true}, team); diff != "" {
		t.Errorf("team account (-want +got):\n%s", diff)
	}
	if n := e.sim.DkimSignatureCount(); n != 2 {
		t.Errorf("automatic DKIM: %d signatures, want 2", n)
	}
}

// TestEnsureIsIdempotent runs Ensure again with and without the recorded id: nothing changes,
// nothing is duplicated, and a stable tenant with a recorded id costs one API request.
func TestEnsureIsIdempotent(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{})
	d := desired("acme.example")
	first := e.ensure(t, d)

	second := e.ensure(t, d) // no recorded id: found by name
	d.ExternalID = first.ExternalID
	e.sim.Faults().ResetRecording()
	third := e.ensure(t, d)

	got := []any{second, third, e.sim.DomainCount(), e.sim.AccountCount(), len(e.apiRequests(t))}
	unchanged := integrations.Observed{ExternalID: first.ExternalID, Action: integrations.ActionUnchanged}
	want := []any{unchanged, unchanged, 1, 1, 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("[second, third, domains, accounts, API requests of the third] (-want +got):\n%s", diff)
	}
}

// TestLostCreateResponse drops the answer of a create the server carried out: the retry must
// find or adopt the object, never create a second one.
func TestLostCreateResponse(t *testing.T) {
	cases := map[string]struct {
		reason string
		method string
	}{
		"Domain":  {"the domain create succeeded but its answer was lost", "x:Domain/set"},
		"Account": {"the team account create succeeded but its answer was lost", "x:Account/set"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, stalwartsim.Options{})
			e.sim.Faults().DropResponseOnce(isCreate(tc.method))
			d := desired("acme.example")
			_, err := integrationstest.Converge(ctx(t), e.client, d)
			if !integrations.IsRetryable(err) {
				t.Fatalf("%s: first Ensure error %v, want retryable", tc.reason, err)
			}
			obs := e.ensure(t, d)
			dom, _ := e.sim.DomainByName("acme.example")
			got := []any{obs.ExternalID, e.sim.DomainCount(), e.sim.AccountCount(), e.team(t, "acme.example").Description}
			want := []any{dom.ID, 1, 1, integrations.Marker(tenantA)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: [externalId, domains, accounts, team marker] (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestConcurrentCreateAdoptsPrimaryKey races two Ensures of one tenant (both look the domain up
// before either creates it): the loser's create gets primaryKeyViolation and adopts the
// returned objectId, so both succeed with the same domain.
func TestConcurrentCreateAdoptsPrimaryKey(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{})
	e.sim.Faults().Set(faults.Config{Latency: 60 * time.Millisecond})
	var wg sync.WaitGroup
	obs := make([]integrations.Observed, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { obs[i], errs[i] = integrationstest.Converge(ctx(t), e.client, desired("acme.example")) })
	}
	wg.Wait()
	creates := 0
	for _, r := range e.apiRequests(t) {
		for _, c := range r.calls {
			if c.name == "x:Domain/set" && c.args["create"] != nil {
				creates++
			}
		}
	}
	got := []any{fmt.Sprint(errs[0]), fmt.Sprint(errs[1]), obs[0].ExternalID == obs[1].ExternalID, creates,
		e.sim.DomainCount(), e.sim.AccountCount()}
	want := []any{"<nil>", "<nil>", true, 2, 1, 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("[err0, err1, same id, domain creates, domains, accounts] (-want +got):\n%s", diff)
	}
}

// TestDrift changes things behind the step's back; the next Ensure (with the recorded id)
// repairs them.
func TestDrift(t *testing.T) {
	cases := map[string]struct {
		reason string
		drift  func(t *testing.T, e *env)
		change func(d *integrations.Desired)
		want   integrations.Action
		check  func(t *testing.T, e *env)
	}{
		"DomainDeleted": {
			reason: "a domain deleted by hand is recreated with its team account",
			drift:  func(t *testing.T, e *env) { e.sim.DeleteDomain("acme.example") },
			want:   integrations.ActionCreated,
			check: func(t *testing.T, e *env) {
				if e.sim.DomainCount() != 1 || e.sim.AccountCount() != 1 {
					t.Errorf("%d domains, %d accounts; want 1, 1", e.sim.DomainCount(), e.sim.AccountCount())
				}
			},
		},
		"TeamDeleted": {
			reason: "a team account deleted by hand is recreated",
			drift:  func(t *testing.T, e *env) { e.sim.DeleteAccount("acme.example", "team") },
			want:   integrations.ActionCreated,
			check:  func(t *testing.T, e *env) { e.team(t, "acme.example") },
		},
		"QuotaChanged": {
			reason: "a quota changed by hand is set back",
			drift: func(t *testing.T, e *env) {
				if err := e.sim.SetAccountQuota("acme.example", "team", 1); err != nil {
					t.Fatal(err)
				}
			},
			want: integrations.ActionUpdated,
			check: func(t *testing.T, e *env) {
				if q := e.team(t, "acme.example").MaxDiskQuota; q != 5*mailGiB {
					t.Errorf("quota %d, want %d", q, 5*mailGiB)
				}
			},
		},
		"PlanChanged": {
			reason: "a new plan quota is applied",
			change: func(d *integrations.Desired) { d.MailQuotaBytes = 25 * mailGiB },
			want:   integrations.ActionUpdated,
			check: func(t *testing.T, e *env) {
				if q := e.team(t, "acme.example").MaxDiskQuota; q != 25*mailGiB {
					t.Errorf("quota %d, want %d", q, 25*mailGiB)
				}
			},
		},
		"DomainDisabled": {
			reason: "a domain disabled by hand is enabled again (the tenant is not suspended)",
			drift: func(t *testing.T, e *env) {
				if err := e.sim.SetDomainEnabled("acme.example", false); err != nil {
					t.Fatal(err)
				}
			},
			want: integrations.ActionUpdated,
			check: func(t *testing.T, e *env) {
				if d, _ := e.sim.DomainByName("acme.example"); !d.IsEnabled {
					t.Error("domain still disabled")
				}
			},
		},
		"MarkerRemoved": {
			reason: "a description without marker is adopted again, keeping its text",
			drift: func(t *testing.T, e *env) {
				if err := e.sim.SetDomainDescription("acme.example", "Acme mail"); err != nil {
					t.Fatal(err)
				}
			},
			want: integrations.ActionAdopted,
			check: func(t *testing.T, e *env) {
				if d, _ := e.sim.DomainByName("acme.example"); d.Description != "Acme mail "+integrations.Marker(tenantA) {
					t.Errorf("description %q", d.Description)
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, stalwartsim.Options{})
			d := desired("acme.example")
			d.ExternalID = e.ensure(t, d).ExternalID
			if tc.drift != nil {
				tc.drift(t, e)
			}
			if tc.change != nil {
				tc.change(&d)
			}
			obs := e.ensure(t, d)
			dom, _ := e.sim.DomainByName("acme.example")
			if diff := cmp.Diff(integrations.Observed{ExternalID: dom.ID, Action: tc.want}, obs); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
			tc.check(t, e)
			d.ExternalID = dom.ID
			if again := e.ensure(t, d); again.Action != integrations.ActionUnchanged {
				t.Errorf("%s: a further Ensure did %s, want unchanged", tc.reason, again.Action)
			}
		})
	}
}
