package controller

import (
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// TestConvergence: 200 tenants created while the controller runs all become Active, every
// step ok with the external id its fake upstream reported, each object created once.
func TestConvergence(t *testing.T) {
	e := newEnv(t)
	e.start()
	start := time.Now()
	ids := make([]bson.ObjectID, 200)
	for i := range ids {
		ids[i] = e.createTenant(fmt.Sprintf("conv-%03d", i)).ID
	}
	created := time.Now()
	eventually(t, 90*time.Second, "200 tenants reconciled", func() bool { return e.log.written() >= len(ids) })
	eventually(t, 30*time.Second, "200 tenants Active", func() bool {
		n, _ := storetest.DB(t, e.st).Collection(store.CollTenantStatus).CountDocuments(ctxT(t), bson.D{{Key: "phase", Value: store.PhaseActive}})
		return n == int64(len(ids))
	})
	t.Logf("created in %v; converged after %v; %d reconciles", created.Sub(start), time.Since(start), e.log.len())
	var tot time.Duration
	for _, r := range e.log.all() {
		tot += r.Duration
	}
	t.Logf("avg reconcile %v, polls %d", tot/time.Duration(e.log.len()), e.c.polls.Load())
	for _, id := range ids {
		st := e.status(id)
		if st.ObservedGeneration != 1 || st.LeaderTerm < 1 || st.LastReconciledAt == nil {
			t.Fatalf("%s: status %+v", st.Slug, st)
		}
		ready := findCondition(st.Conditions, condReady)
		if ready == nil || ready.Status != condTrue {
			t.Fatalf("%s: Ready = %+v", st.Slug, ready)
		}
		for _, f := range e.steps {
			ss := st.Steps[f.name]
			if ss.State != store.StepOK || ss.ExternalID == "" || ss.ObservedGeneration != 1 || ss.Attempts != 1 {
				t.Fatalf("%s/%s: %+v", st.Slug, f.name, ss)
			}
			if n := f.createdCount(id.Hex()); n != 1 {
				t.Fatalf("%s/%s: %d objects created", st.Slug, f.name, n)
			}
		}
	}
}
