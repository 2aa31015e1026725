package controller

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// TestStoreOutageSpendsNoBackoff: a reconcile that fails because the database went away is
// not the tenant's failure: no backoff step is spent on it (no retry counted), and once the
// database is back the tenant is reconciled without waiting out a backoff. The lease is long
// so the controller keeps leading through the outage.
func TestStoreOutageSpendsNoBackoff(t *testing.T) {
	dir := t.TempDir()
	srv, err := storetest.StartFerretDB(ctxT(t), dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(srv.URI, "mongodb://"), "/")
	e := newEnv(t, func(o *Options) { o.LeaseDuration, o.LeaseRenew = time.Minute, 20*time.Second })
	e.st = storetest.NewStoreWith(t, storetest.Options{Server: srv})
	gate, entered := make(chan struct{}), make(chan string, 1)
	e.steps[0].gate, e.steps[0].entered = gate, entered
	e.start()
	tn := e.createTenant("outage")
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the reconcile never reached the first step")
	}
	srv.Stop()
	close(gate) // the steps finish; writing the status meets the stopped database
	eventually(t, 30*time.Second, "a reconcile failing as unavailable", func() bool {
		for _, r := range e.log.all() {
			if r.TenantID == tn.ID && r.Err != nil && store.IsUnavailable(r.Err) {
				return true
			}
		}
		return false
	})

	srv2, err := storetest.StartFerretDB(ctxT(t), dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Stop()
	e.waitPhase(tn.ID, store.PhaseActive)
	if got := counterValue(t, e.c.m.retries); got != 0 {
		t.Errorf("workqueue retries = %v: the outage was spent as backoff", got)
	}
	for _, r := range e.log.all() {
		if r.TenantID == tn.ID && r.Err != nil && !store.IsUnavailable(r.Err) && !errors.Is(r.Err, store.ErrNotFound) {
			t.Errorf("a reconcile failed otherwise: %v", r.Err)
		}
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestPollSeesAWriteThatBecameVisibleLate: the API stamps updatedAt before it writes, and a
// slow database may commit the write many seconds later, after newer writes moved the poll's
// watermark on. The poll still sees it (within the API's request timeout), instead of leaving
// the tenant to the next full resync. The bounded-load drill lost tenants this way.
func TestPollSeesAWriteThatBecameVisibleLate(t *testing.T) {
	e := newEnv(t)
	e.start()
	first := e.createTenant("on-time")
	e.waitPhase(first.ID, store.PhaseActive)
	e.waitPolls(2) // the watermark has moved to the newest write

	now := e.st.Now()
	stamped := now.Add(-20 * time.Second) // stamped 20s before it became visible
	late := store.Tenant{ID: bson.NewObjectID(), Metadata: store.Metadata{Slug: "late", Generation: 1, ResourceVersion: 1,
		CreatedAt: stamped, UpdatedAt: stamped}, Spec: newTenantSpec("late").Spec}
	if _, err := storetest.DB(t, e.st).Collection(store.CollTenants).InsertOne(ctxT(t), late); err != nil {
		t.Fatal(err)
	}
	e.waitPhase(late.ID, store.PhaseActive)
}
