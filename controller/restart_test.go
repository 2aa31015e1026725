package controller

import (
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// TestRestart: a controller stopped mid-way through 100 tenants is replaced by a new one;
// every tenant converges and every upstream object is created exactly once.
func TestRestart(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Workers = 2 })
	ids := make([]bson.ObjectID, 100)
	for i := range ids {
		ids[i] = e.createTenant(fmt.Sprintf("restart-%03d", i)).ID
	}
	e.start()
	eventually(t, 60*time.Second, "20 tenants reconciled", func() bool { return e.log.written() >= 20 })
	e.stop()
	first := e.log.written()
	if first >= len(ids) {
		t.Fatalf("the first controller finished all %d tenants before it was stopped: nothing to test", first)
	}
	t.Logf("first controller reconciled %d of %d", first, len(ids))

	e.start() // a new Controller over the same database and upstreams
	eventually(t, 90*time.Second, "100 tenants Active", func() bool {
		n, _ := storetest.DB(t, e.st).Collection(store.CollTenantStatus).CountDocuments(ctxT(t), bson.D{{Key: "phase", Value: store.PhaseActive}})
		return n == int64(len(ids))
	})
	for _, id := range ids {
		for _, f := range e.steps {
			if n := f.createdCount(id.Hex()); n != 1 {
				t.Fatalf("%s object of %s created %d times", f.name, id.Hex(), n)
			}
		}
	}
	if st := e.status(ids[len(ids)-1]); st.LeaderTerm != 2 {
		t.Errorf("status written at term %d, want 2 (the second controller's)", st.LeaderTerm)
	}
}
