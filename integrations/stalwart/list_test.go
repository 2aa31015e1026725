package stalwart_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"github.com/dezky/platform-api/integrations/sim/faults"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
)

// TestSnapshotAnswersAsLiveObserve compares, case by case, the listing's answer for a tenant
// with a live Observe's: equal wherever the snapshot answers; it declines exactly where the
// listing cannot prove the answer (an object it does not hold).
func TestSnapshotAnswersAsLiveObserve(t *testing.T) {
	converged := func(t *testing.T, e *env) integrations.Desired {
		d := desired("acme.example")
		d.ExternalID = e.ensure(t, d).ExternalID
		return d
	}
	cases := map[string]struct {
		setup  func(t *testing.T, e *env) integrations.Desired
		wantOK bool
	}{
		"in sync, recorded id": {setup: converged, wantOK: true},
		"in sync, no recorded id": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			d.ExternalID = ""
			return d
		}, wantOK: true},
		"disabled": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			must(t, e.sim.SetDomainEnabled("acme.example", false))
			return d
		}, wantOK: true},
		"suspension to apply": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			d.Suspended = true
			return d
		}, wantOK: true},
		"quota drifted": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			must(t, e.sim.SetAccountQuota("acme.example", "team", 7))
			return d
		}, wantOK: true},
		"team account missing": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			e.sim.DeleteAccount("acme.example", "team")
			return d
		}, wantOK: true},
		"team account unmarked": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			must(t, e.sim.SetAccountDescription("acme.example", "team", ""))
			return d
		}, wantOK: true},
		"another tenant's domain": {setup: func(t *testing.T, e *env) integrations.Desired {
			mustSeedDomain(t, e, integrations.Marker(tenantB))
			return desired("acme.example")
		}, wantOK: true},
		"mail removed: the recorded domain goes": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			d.MailDomain = ""
			return d
		}, wantOK: true},
		"no mail at all": {setup: func(t *testing.T, e *env) integrations.Desired { return desired("") }, wantOK: true},
		"marker removed (unmarked domains are not listed)": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			must(t, e.sim.SetDomainDescription("acme.example", ""))
			return d
		}, wantOK: false},
		"domain changed to one not yet created": {setup: func(t *testing.T, e *env) integrations.Desired {
			d := converged(t, e)
			d.MailDomain = "new.example"
			return d
		}, wantOK: false},
		"empty upstream": {setup: func(t *testing.T, e *env) integrations.Desired { return desired("acme.example") }, wantOK: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, stalwartsim.Options{})
			d := tc.setup(t, e)
			live, err := e.client.Observe(ctx(t), d)
			if err != nil {
				t.Fatal(err)
			}
			e.sim.Faults().ResetRecording()
			snap, err := e.client.ObserveAll(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if w := integrationstest.JMAPWrites(e.sim.Faults().Requests()); len(w) != 0 {
				t.Errorf("the listing wrote: %v", w)
			}
			got, ok := snap.Observe(d)
			if ok != tc.wantOK {
				t.Fatalf("snapshot ok = %v, want %v (live: %+v)", ok, tc.wantOK, live)
			}
			if ok {
				if diff := cmp.Diff(live, got, cmpopts.IgnoreFields(integrations.Observation{}, "Object"), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("snapshot differs from live Observe (-live +snapshot):\n%s", diff)
				}
			}
		})
	}
}

// TestListingPages: with maxObjectsInGet 4, a page exactly full, one object past a page, and
// unmarked domains beside: every marked domain and its team account is in the snapshot.
func TestListingPages(t *testing.T) {
	for _, n := range []int{4, 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e := newEnv(t, stalwartsim.Options{MaxObjectsInGet: 4})
			var ds []integrations.Desired
			for i := 0; i < n; i++ {
				d := desired(fmt.Sprintf("t%d.example", i))
				d.TenantID = fmt.Sprintf("%024x", i+1)
				d.ExternalID = e.ensure(t, d).ExternalID
				ds = append(ds, d)
			}
			if _, err := e.sim.CreateDomainOutOfBand("someone.example", ""); err != nil {
				t.Fatal(err)
			}
			snap, err := e.client.ObserveAll(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				o, ok := snap.Observe(d)
				if !ok || !o.InSync() || o.ExternalID != d.ExternalID {
					t.Errorf("%s: snapshot answer %+v, %v; want in sync", d.MailDomain, o, ok)
				}
			}
		})
	}
}

// TestListingRetries429: a 429 during the listing is waited out and retried.
func TestListingRetries429(t *testing.T) {
	e := newEnv(t, stalwartsim.Options{})
	d := desired("acme.example")
	d.ExternalID = e.ensure(t, d).ExternalID
	e.sim.Faults().Set(faults.Config{RateLimitNext: 1, RetryAfterSeconds: 1})
	snap, err := e.client.ObserveAll(ctx(t))
	if err != nil {
		t.Fatalf("ObserveAll: %v", err)
	}
	if o, ok := snap.Observe(d); !ok || !o.InSync() {
		t.Errorf("after the retry: %+v, %v", o, ok)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
