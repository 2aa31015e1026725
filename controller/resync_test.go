package controller

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
)

// convergeTenants creates n tenants and waits until every one is Active and reported.
func convergeTenants(t *testing.T, e *env, prefix string, n int) []*store.Tenant {
	t.Helper()
	ts := make([]*store.Tenant, n)
	for i := range ts {
		ts[i] = e.createTenant(fmt.Sprintf("%s-%02d", prefix, i))
	}
	for _, tn := range ts {
		e.waitPhase(tn.ID, store.PhaseActive)
	}
	e.waitIntervals(2)
	return ts
}

// reconcilesSince counts each tenant's reconciles after the log's first `from` entries.
func reconcilesSince(e *env, from int) map[bson.ObjectID]int {
	out := map[bson.ObjectID]int{}
	for _, r := range e.log.all()[from:] {
		out[r.TenantID]++
	}
	return out
}

// TestListingResyncObservesOnlyWhatDrifted: twenty stable tenants, two of whose objects vanish
// in one step: a resync lists each step once, reconciles exactly the two, recreates their
// objects, and leaves the other eighteen alone (no Observe, no write).
func TestListingResyncObservesOnlyWhatDrifted(t *testing.T) {
	e := newEnv(t)
	e.start()
	ts := convergeTenants(t, e, "fleet", 20)
	e.steps[1].vanish(ts[3].ID.Hex())
	e.steps[1].vanish(ts[11].ID.Hex())
	from, observes := e.log.len(), len(e.steps[0].callsOf("observe", ts[0].ID.Hex()))
	if _, err := e.st.RequestResync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "both drifted tenants repaired", func() bool {
		return e.steps[1].has(ts[3].ID.Hex()) && e.steps[1].has(ts[11].ID.Hex())
	})
	e.waitIntervals(3)
	got := reconcilesSince(e, from)
	for i, tn := range ts {
		want := 0
		if i == 3 || i == 11 {
			want = 1
		}
		if got[tn.ID] != want {
			t.Errorf("tenant %d reconciled %d times by the resync, want %d", i, got[tn.ID], want)
		}
	}
	if n := len(e.steps[0].callsOf("observe", ts[0].ID.Hex())); n != observes {
		t.Errorf("a stable tenant was observed live %d times", n-observes)
	}
	if e.steps[1].createdCount(ts[3].ID.Hex()) != 2 {
		t.Errorf("the vanished object was created %d times in all, want 2", e.steps[1].createdCount(ts[3].ID.Hex()))
	}
}

// TestListingFailureFallsBackToLiveObserve: a step whose listing fails makes the resync observe
// every tenant live (logged and counted), so drift is still found.
func TestListingFailureFallsBackToLiveObserve(t *testing.T) {
	e := newEnv(t)
	e.start()
	ts := convergeTenants(t, e, "fallback", 5)
	e.steps[2].mu.Lock()
	e.steps[2].listErr = errors.New("listing refused")
	e.steps[2].mu.Unlock()
	e.steps[2].vanish(ts[1].ID.Hex())
	from := e.log.len()
	if _, err := e.st.RequestResync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "every tenant observed live", func() bool { return len(reconcilesSince(e, from)) == len(ts) })
	eventually(t, 10*time.Second, "drift repaired", func() bool { return e.steps[2].has(ts[1].ID.Hex()) })
	if n := testutil.ToFloat64(e.c.m.snapshotFailures.WithLabelValues("ocis")); n != 1 {
		t.Errorf("listing failures counted %v, want 1", n)
	}
}

// TestTenantCreatedDuringAListingResync: a tenant created while the resync's listings are
// being taken is not in them; it converges through its change event, the resync sends it to a
// live Observe (not in the snapshot) which finds it in sync, and nothing is created twice.
func TestTenantCreatedDuringAListingResync(t *testing.T) {
	e := newEnv(t)
	e.start()
	convergeTenants(t, e, "early", 3)
	gate := make(chan struct{})
	for _, f := range e.steps {
		f.mu.Lock()
		f.listGate = gate
		f.mu.Unlock()
	}
	lists := len(e.steps[0].callsOf("list", ""))
	if _, err := e.st.RequestResync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	late := e.createTenant("late")
	e.waitPhase(late.ID, store.PhaseActive)
	close(gate)
	eventually(t, 10*time.Second, "the resync listed", func() bool { return len(e.steps[0].callsOf("list", "")) > lists })
	e.waitIntervals(3)
	for _, f := range e.steps {
		if n := f.createdCount(late.ID.Hex()); n != 1 {
			t.Errorf("%s created %d objects for the late tenant", f.name, n)
		}
	}
	if st := e.status(late.ID); st.Phase != store.PhaseActive {
		t.Errorf("late tenant %s", st.Phase)
	}
}
