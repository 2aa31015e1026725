package authentik

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"github.com/dezky/platform-api/integrations/sim/faults"
)

// TestSnapshotAnswersAsLiveObserve compares, case by case, what the listing's snapshot answers
// for a tenant with what a live Observe answers: equal wherever the snapshot answers, and the
// snapshot declines exactly where the listing cannot prove the answer.
func TestSnapshotAnswersAsLiveObserve(t *testing.T) {
	converged := func(e *env) integrations.Desired {
		e.sim.AddUser("owner", ownerEmail)
		d := desired()
		obs, err := integrationstest.Converge(ctx(t), e.client, d)
		if err != nil {
			t.Fatal(err)
		}
		d.ExternalID = obs.ExternalID
		return d
	}
	cases := map[string]struct {
		setup  func(e *env) integrations.Desired
		wantOK bool
	}{
		"in sync, recorded id": {setup: converged, wantOK: true},
		"in sync, no recorded id": {setup: func(e *env) integrations.Desired {
			d := converged(e)
			d.ExternalID = ""
			return d
		}, wantOK: true},
		"attributes drifted": {setup: func(e *env) integrations.Desired {
			d := converged(e)
			e.sim.SetGroupAttributes("tenant-acme", map[string]any{AttrTenantID: tenantID, AttrTenantSlug: "x"})
			return d
		}, wantOK: true},
		"suspension to apply": {setup: func(e *env) integrations.Desired {
			d := converged(e)
			d.Suspended = true
			return d
		}, wantOK: true},
		"renamed within the prefix": {setup: func(e *env) integrations.Desired {
			d := converged(e)
			e.sim.RenameGroupOutOfBand("tenant-acme", "tenant-acme-old")
			return d
		}, wantOK: true},
		"marker form of earlier builds": {setup: func(e *env) integrations.Desired {
			d := converged(e)
			e.sim.SetGroupAttributes("tenant-acme", map[string]any{AttrTenantID: integrations.Marker(tenantID), AttrTenantSlug: "acme", AttrSuspended: false})
			return d
		}, wantOK: true},
		"unmarked group (adoptable)": {setup: func(e *env) integrations.Desired {
			e.sim.AddUser("owner", ownerEmail)
			if _, err := e.sim.CreateGroupOutOfBand("tenant-acme", map[string]any{"x": "y"}); err != nil {
				t.Fatal(err)
			}
			d := desired()
			d.OwnerEmail = ""
			return d
		}, wantOK: true},
		"foreign group": {setup: func(e *env) integrations.Desired {
			if _, err := e.sim.CreateGroupOutOfBand("tenant-acme", map[string]any{AttrTenantID: otherID}); err != nil {
				t.Fatal(err)
			}
			return desired()
		}, wantOK: true},
		"owner not a member": {setup: func(e *env) integrations.Desired {
			d := converged(e)
			g, _ := e.sim.GroupByName("tenant-acme")
			for _, u := range g.Users {
				e.sim.RemoveMemberOutOfBand("tenant-acme", u)
			}
			return d
		}, wantOK: false},
		"owner without an account": {setup: func(e *env) integrations.Desired {
			d := desired()
			obs, _ := integrationstest.Converge(ctx(t), e.client, d)
			d.ExternalID = obs.ExternalID
			return d
		}, wantOK: false},
		"group gone": {setup: func(e *env) integrations.Desired {
			d := converged(e)
			e.sim.DeleteGroupOutOfBand("tenant-acme")
			return d
		}, wantOK: false},
		"renamed away from the prefix": {setup: func(e *env) integrations.Desired {
			d := converged(e)
			e.sim.RenameGroupOutOfBand("tenant-acme", "acme-archive")
			return d
		}, wantOK: false},
		"empty upstream": {setup: func(e *env) integrations.Desired { return desired() }, wantOK: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			d := tc.setup(e)
			live, err := e.client.Observe(ctx(t), d)
			if err != nil {
				t.Fatal(err)
			}
			e.sim.Faults().ResetRecording()
			snap, err := e.client.ObserveAll(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if w := integrationstest.RESTWrites(e.sim.Faults().Requests()); len(w) != 0 {
				t.Errorf("the listing wrote: %+v", w)
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

// TestListingPages: a page exactly full, one group past a page, and groups outside the prefix:
// every prefixed group is in the snapshot, in as few requests as the pages need.
func TestListingPages(t *testing.T) {
	for _, n := range []int{listPageSize, listPageSize + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e := newEnv(t)
			for i := 0; i < n; i++ {
				if _, err := e.sim.CreateGroupOutOfBand(fmt.Sprintf("tenant-t%04d", i), map[string]any{AttrTenantID: fmt.Sprintf("%024x", i)}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.sim.CreateGroupOutOfBand("admins", nil); err != nil {
				t.Fatal(err)
			}
			e.sim.Faults().ResetRecording()
			snap, err := e.client.ObserveAll(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			gs := snap.(*groupSnapshot)
			if len(gs.byName) != n || gs.byName["admins"] != nil {
				t.Errorf("%d groups in the snapshot, want %d without admins", len(gs.byName), n)
			}
			wantRequests := (n + listPageSize - 1) / listPageSize
			if got := countRequests(e, http.MethodGet, "/core/groups/"); got != wantRequests {
				t.Errorf("%d listing requests for %d groups, want %d", got, n, wantRequests)
			}
		})
	}
}

// TestListingRetries429: Authentik answering 429 during the listing is waited out (its
// Retry-After honoured) and retried; the snapshot is complete.
func TestListingRetries429(t *testing.T) {
	e := newEnv(t)
	if _, err := e.sim.CreateGroupOutOfBand("tenant-acme", map[string]any{AttrTenantID: tenantID}); err != nil {
		t.Fatal(err)
	}
	e.sim.Faults().Set(faults.Config{RateLimitNext: 2, RetryAfterSeconds: 1})
	start := time.Now()
	snap, err := e.client.ObserveAll(ctx(t))
	if err != nil {
		t.Fatalf("ObserveAll: %v", err)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("retried after %v: the two Retry-After: 1 were not honoured", took)
	}
	if n := countRequests(e, http.MethodGet, "/core/groups/"); n != 3 {
		t.Errorf("%d listing requests, want 3 (two answered 429)", n)
	}
	if len(snap.(*groupSnapshot).byName) != 1 {
		t.Error("the retried listing lost the group")
	}
}

// TestDriftDuringTheListing changes groups while the listing is between its two pages: one
// group of the first page (already read) drifts, and one group of the first page is deleted,
// which moves the next group from the second page onto the first, past the listing. The
// snapshot never gives a wrong answer for a group it holds: the drifted group reads as it was
// when listed (the next resync sees the drift), and the group that moved is declined (it gets
// a live Observe), never reported missing.
func TestDriftDuringTheListing(t *testing.T) {
	e := newEnv(t)
	n := listPageSize + 1
	var ds []integrations.Desired
	for i := 0; i < n; i++ {
		d := desired()
		d.Slug, d.TenantID, d.OwnerEmail = fmt.Sprintf("t%04d", i), fmt.Sprintf("%024x", i+1), ""
		if _, err := e.sim.CreateGroupOutOfBand("tenant-"+d.Slug, map[string]any{AttrTenantID: d.TenantID, AttrTenantSlug: d.Slug, AttrSuspended: false}); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	// Between page 1 and page 2: t0007 drifts, t0003 is deleted (so t0500, the first group of
	// page 2, slides onto page 1 and is never listed).
	inner := e.srv.Config.Handler
	var once sync.Once
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r)
		if r.URL.Path == "/api/v3/core/groups/" && r.URL.Query().Get("page") == "1" {
			once.Do(func() {
				e.sim.SetGroupAttributes("tenant-t0007", map[string]any{AttrTenantID: ds[7].TenantID, AttrTenantSlug: "moved", AttrSuspended: false})
				e.sim.DeleteGroupOutOfBand("tenant-t0003")
			})
		}
	})
	snap, err := e.client.ObserveAll(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := snap.Observe(ds[7]); !ok || !o.InSync() {
		t.Errorf("t0007 was listed before it drifted: %+v, %v; want in sync as listed", o, ok)
	}
	if o, ok := snap.Observe(ds[500]); ok {
		t.Errorf("t0500 slid past the listing but the snapshot answered %+v", o)
	}
	for i, d := range ds {
		if i == 3 || i == 7 || i == 500 {
			continue
		}
		if o, ok := snap.Observe(d); !ok || !o.InSync() {
			t.Errorf("%s: %+v, %v; want in sync", d.Slug, o, ok)
		}
	}
}
