package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// fakeReconciler stands in for the controller: it watches the tenant's annotation and, on a new
// token, does what handle says. It stops with the test.
func fakeReconciler(t *testing.T, st *store.Store, slug string, handle func(ctx context.Context, tn *store.Tenant, token string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		seen := ""
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			tn, err := st.GetTenant(ctx, slug)
			if err != nil {
				continue
			}
			if tok := tn.Metadata.Annotations[store.AnnotationReconcileRequestedAt]; tok != "" && tok != seen {
				seen = tok
				handle(ctx, tn, tok)
			}
		}
	}()
}

func TestReconcileWaitReturnsWhenHandled(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.createTenant(alice, "wait-co")
	fakeReconciler(t, e.st, "wait-co", func(ctx context.Context, tn *store.Tenant, token string) {
		now := e.st.Now()
		_ = e.st.PutStatus(ctx, &store.Status{
			ID: tn.ID, Slug: tn.Metadata.Slug, Phase: store.PhaseActive, ObservedGeneration: tn.Metadata.Generation,
			LastReconciledAt: &now, LastHandledReconcileAt: token, LeaderTerm: 1,
		})
	})
	r := e.post("/tenants/wait-co/reconcile?wait=20s", alice, nil)
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	v := r.obj(t)
	token := dig(v, "metadata", "annotations", store.AnnotationReconcileRequestedAt)
	if token == nil || dig(v, "status", "lastHandledReconcileAt") != token || dig(v, "status", "phase") != "Active" {
		t.Fatalf("the tenant as handled: %s", r.body)
	}
	if r.header.Get("ETag") != etag(int64(dig(v, "metadata", "resourceVersion").(float64))) {
		t.Fatalf("ETag %q", r.header.Get("ETag"))
	}
}

func TestReconcileWaitTimesOutWith202AndPollsGently(t *testing.T) {
	var statusReads atomic.Int64
	mon := &event.CommandMonitor{Started: func(_ context.Context, ev *event.CommandStartedEvent) {
		if coll, ok := ev.Command.Lookup("find").StringValueOK(); ok && coll == store.CollTenantStatus {
			statusReads.Add(1)
		}
	}}
	st := storetest.NewStoreWith(t, storetest.Options{Store: store.Options{Monitor: mon}})
	e := newEnv(t, func(c *Config) { c.Store = st })
	e.st = st
	alice := e.user("alice")
	e.createTenant(alice, "slow-co")
	statusReads.Store(0)
	start := time.Now()
	r := e.post("/tenants/slow-co/reconcile?wait=600ms", alice, nil)
	elapsed := time.Since(start)
	if r.code != http.StatusAccepted {
		t.Fatalf("%d %s", r.code, r.body)
	}
	tn, _ := e.st.GetTenant(context.Background(), "slow-co")
	if r.obj(t)["requestedAt"] != tn.Metadata.Annotations[store.AnnotationReconcileRequestedAt] {
		t.Fatalf("202 body %s, annotation %v", r.body, tn.Metadata.Annotations)
	}
	if elapsed < 600*time.Millisecond || elapsed > 10*time.Second {
		t.Fatalf("answered after %s for a 600ms wait", elapsed)
	}
	// ~100ms polling: about 7 reads in 600ms; a busy loop would make hundreds.
	if n := statusReads.Load(); n < 3 || n > 15 {
		t.Fatalf("%d status reads during a 600ms wait", n)
	}
}

func TestReconcileWaitOnDeletedTenantIs404(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.createTenant(alice, "doomed")
	fakeReconciler(t, e.st, "doomed", func(ctx context.Context, tn *store.Tenant, _ string) {
		_ = e.st.DeleteTenant(ctx, tn.ID) // a teardown that finished during the wait
	})
	requireProblem(t, e.post("/tenants/doomed/reconcile?wait=20s", alice, nil), http.StatusNotFound)
}

// TestReconcileWaitEndsWhenClientLeaves: cancelling the client's request ends the handler's
// wait at once, not when ?wait would have run out.
func TestReconcileWaitEndsWhenClientLeaves(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.createTenant(alice, "leaver")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := e.send(ctx, req{method: http.MethodPost, path: "/tenants/leaver/reconcile?wait=60s", token: alice})
		errc <- err
	}()
	eventually(t, 10*time.Second, "the handler to start waiting", func() bool { return e.srv.waiting.Load() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v, want context.Canceled", err)
	}
	eventually(t, 2*time.Second, "the handler to stop waiting after the client left", func() bool { return e.srv.waiting.Load() == 0 })
}

func TestReconcileToken(t *testing.T) {
	cases := map[string]struct {
		handled, token string
		want           bool
	}{
		"same":          {"2026-01-02T03:04:05.1Z", "2026-01-02T03:04:05.1Z", true},
		"later handled": {"2026-01-02T03:04:05.2Z", "2026-01-02T03:04:05.1Z", true},
		"older handled": {"2026-01-02T03:04:05.09Z", "2026-01-02T03:04:05.1Z", false},
		"none":          {"", "2026-01-02T03:04:05.1Z", false},
		"trailing zero": {"2026-01-02T03:04:05.10000001Z", "2026-01-02T03:04:05.1Z", true},
		"garbage":       {"yesterday", "2026-01-02T03:04:05.1Z", false},
	}
	for name, tc := range cases {
		if got := reached(tc.handled, tc.token); got != tc.want {
			t.Errorf("%s: reached(%q, %q) = %v", name, tc.handled, tc.token, got)
		}
	}
}
