package controller

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// TestDelete: teardown runs in reverse step order; a step whose teardown fails twice keeps
// both documents (phase Deleting, its error recorded) until it succeeds; then the tenant, its
// status, memberships, subscription and events are gone.
func TestDelete(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.BackoffInitial = 150 * time.Millisecond })
	order := &orderLog{}
	for _, f := range e.steps {
		f.order = order
	}
	// stalwart's teardown fails until the test has seen two failures and allows it (deleteErr
	// runs under the step's lock, which the test takes to flip allowed).
	allowed := false
	e.steps[1].deleteErr = func(_ integrations.Desired, n int) error {
		if n <= 2 || !allowed {
			return retryable("stalwart busy")
		}
		return nil
	}
	e.start()
	ctx := ctxT(t)
	tn := e.createTenant("bye")
	e.waitPhase(tn.ID, store.PhaseActive)
	if err := e.st.PutMembership(ctx, store.Membership{TenantSlug: "bye", TenantID: tn.ID, Subject: "sub-bye", Role: store.RoleOwner}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutSubscription(ctx, store.Subscription{TenantSlug: "bye", TenantID: tn.ID, Plan: "standard", Status: "active", Seats: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.RequestDeletion(ctx, "bye"); err != nil {
		t.Fatal(err)
	}

	eventually(t, 20*time.Second, "two failed teardowns recorded", func() bool {
		st := e.status(tn.ID)
		return st != nil && st.Phase == store.PhaseDeleting && st.Steps["stalwart"].State == store.StepError &&
			st.Steps["stalwart"].Attempts >= 2
	})
	if _, err := e.st.GetTenantByID(ctx, tn.ID); err != nil {
		t.Fatalf("tenant gone while its stalwart teardown still fails: %v", err)
	}
	if !e.steps[0].has(tn.ID.Hex()) {
		t.Fatal("authentik torn down before stalwart, which precedes it in reverse order")
	}
	e.steps[1].mu.Lock()
	allowed = true
	e.steps[1].mu.Unlock()

	eventually(t, 20*time.Second, "tenant and status gone", func() bool {
		_, terr := e.st.GetTenantByID(ctx, tn.ID)
		_, serr := e.st.GetStatus(ctx, tn.ID)
		return errors.Is(terr, store.ErrNotFound) && errors.Is(serr, store.ErrNotFound)
	})
	// Each attempt asks again from the top (Delete is idempotent): ocis once per stalwart try.
	var want []string
	tries := len(e.steps[1].callsOf("delete", tn.ID.Hex()))
	for range tries {
		want = append(want, "ocis")
	}
	want = append(want, "stalwart", "authentik")
	if diff := cmp.Diff(want, order.list()); diff != "" {
		t.Errorf("teardown order (-want +got):\n%s", diff)
	}
	for _, f := range e.steps {
		if f.has(tn.ID.Hex()) {
			t.Errorf("%s object left behind", f.name)
		}
	}
	for _, coll := range []string{store.CollMemberships, store.CollSubscriptions, store.CollEvents} {
		n, err := storetest.DB(t, e.st).Collection(coll).CountDocuments(ctx, bson.D{{Key: "tenantId", Value: tn.ID}})
		if err != nil || n != 0 {
			t.Errorf("%s: %d documents left (%v)", coll, n, err)
		}
	}
}

// TestDeletePermanentFailureWaits: a permanently failing teardown is recorded and not retried
// in a hot loop; a forced reconcile retries it.
func TestDeletePermanentFailureWaits(t *testing.T) {
	e := newEnv(t)
	var fail = true
	e.steps[2].deleteErr = func(integrations.Desired, int) error {
		if fail {
			return integrations.PermanentError("purge space", "forbidden")
		}
		return nil
	}
	e.start()
	ctx := ctxT(t)
	tn := e.createTenant("stuck")
	e.waitPhase(tn.ID, store.PhaseActive)
	if _, _, err := e.st.RequestDeletion(ctx, "stuck"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "ocis teardown error recorded", func() bool {
		st := e.status(tn.ID)
		return st != nil && st.Steps["ocis"].State == store.StepError
	})
	e.waitIntervals(5)
	if n := len(e.steps[2].callsOf("delete", tn.ID.Hex())); n != 1 {
		t.Fatalf("permanent teardown failure tried %d times", n)
	}
	e.steps[2].mu.Lock()
	fail = false
	e.steps[2].mu.Unlock()
	forceReconcile(t, e, "stuck", "2026-11-28T11:00:00Z")
	eventually(t, 20*time.Second, "tenant gone", func() bool {
		_, err := e.st.GetTenantByID(ctx, tn.ID)
		return errors.Is(err, store.ErrNotFound)
	})
}
