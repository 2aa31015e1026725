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

// fakeReconciler stands in for the controller: it watches the tenant's reconcile annotation and,
// on a new token, does what handle says. It stops with the test.
func fakeReconciler(t *testing.T, st *store.Store, slug string, handle func(ctx context.Context, tn *store.Tenant, token string)) {
	t.Helper()
	watchAnnotation(t, st, slug, store.AnnotationReconcileRequestedAt, handle)
}

// watchAnnotation calls handle with every new value of the tenant's annotation key.
func watchAnnotation(t *testing.T, st *store.Store, slug, key string, handle func(ctx context.Context, tn *store.Tenant, token string)) {
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
			if tok := tn.Metadata.Annotations[key]; tok != "" && tok != seen {
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
	const tok = "2026-01-02T03:04:05.1Z"
	cases := map[string]struct {
		handled, current string
		want             bool
	}{
		"handled":                  {tok, tok, true},
		"not yet":                  {"2026-01-02T03:04:05.09Z", tok, false},
		"none":                     {"", tok, false},
		"none, replaced":           {"", "2026-01-02T03:04:05.2Z", false},
		"replaced, then handled":   {"2026-01-02T03:04:05.2Z", "2026-01-02T03:04:05.2Z", true},
		"replaced by hand":         {"manual-7", "manual-7", true},
		"replaced, not handled":    {"2026-01-02T03:04:05.09Z", "2026-01-02T03:04:05.2Z", false},
		"old future-dated token":   {"2099-01-01T00:00:00Z", tok, false},
		"handled, then replaced":   {tok, "2026-01-02T03:04:05.2Z", true},
		"same instant, other text": {"2026-01-02T03:04:05.100Z", tok, false},
	}
	for name, tc := range cases {
		if got := reached(tc.handled, tok, tc.current); got != tc.want {
			t.Errorf("%s: reached(%q, %q, %q) = %v", name, tc.handled, tok, tc.current, got)
		}
	}
}

// TestReconcileWaitIgnoresAnUnrelatedNewerToken: a status that handled a hand-written,
// future-dated token before this request does not end the wait; the answer comes when the
// controller has handled this request, and echoes it.
func TestReconcileWaitIgnoresAnUnrelatedNewerToken(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.createTenant(alice, "future-co")
	ctx := context.Background()
	tn, err := e.st.SetAnnotation(ctx, "future-co", store.AnnotationReconcileRequestedAt, "2099-01-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	now := e.st.Now()
	if err := e.st.PutStatus(ctx, &store.Status{ID: tn.ID, Slug: "future-co", Phase: store.PhaseActive, ObservedGeneration: 1,
		LastReconciledAt: &now, LastHandledReconcileAt: "2099-01-01T00:00:00Z", LeaderTerm: 1}); err != nil {
		t.Fatal(err)
	}

	// Nobody handles the request: the wait runs out.
	r := e.post("/tenants/future-co/reconcile?wait=300ms", alice, nil)
	if r.code != http.StatusAccepted {
		t.Fatalf("%d %s, want 202: the status only handled an older request", r.code, r.body)
	}

	// A controller handles it: 200, and the body shows this very request handled.
	fakeReconciler(t, e.st, "future-co", func(ctx context.Context, tn *store.Tenant, token string) {
		now := e.st.Now()
		_ = e.st.PutStatus(ctx, &store.Status{ID: tn.ID, Slug: "future-co", Phase: store.PhaseActive, ObservedGeneration: 1,
			LastReconciledAt: &now, LastHandledReconcileAt: token, LeaderTerm: 1})
	})
	r = e.post("/tenants/future-co/reconcile?wait=20s", alice, nil)
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	v := r.obj(t)
	if got, ann := dig(v, "status", "lastHandledReconcileAt"), dig(v, "metadata", "annotations", store.AnnotationReconcileRequestedAt); got != ann || ann == "2099-01-01T00:00:00Z" {
		t.Fatalf("lastHandledReconcileAt %v, annotation %v", got, ann)
	}
}

// TestReconcileWaitEndsWhenALaterRequestIsHandled: when another request replaces this one
// before the controller gets to it, handling the later one ends this wait too (200).
func TestReconcileWaitEndsWhenALaterRequestIsHandled(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.createTenant(alice, "coalesce-co")
	const later = "by-hand-after-the-api"
	fakeReconciler(t, e.st, "coalesce-co", func(ctx context.Context, tn *store.Tenant, token string) {
		if token != later { // someone forces again before the controller gets to it
			_, _ = e.st.SetAnnotation(ctx, "coalesce-co", store.AnnotationReconcileRequestedAt, later)
			return
		}
		now := e.st.Now()
		_ = e.st.PutStatus(ctx, &store.Status{ID: tn.ID, Slug: "coalesce-co", Phase: store.PhaseActive, ObservedGeneration: 1,
			LastReconciledAt: &now, LastHandledReconcileAt: token, LeaderTerm: 1})
	})
	r := e.post("/tenants/coalesce-co/reconcile?wait=20s", alice, nil)
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if got := dig(r.obj(t), "status", "lastHandledReconcileAt"); got != later {
		t.Fatalf("lastHandledReconcileAt %v, want %q", got, later)
	}
}

// TestReconcileWaitAboveTheCapIsCut: a wait above MaxWait is served as MaxWait (202 when it runs
// out), not refused.
func TestReconcileWaitAboveTheCapIsCut(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxWait = 300 * time.Millisecond })
	alice := e.user("alice")
	e.createTenant(alice, "capped-co")
	start := time.Now()
	r := e.post("/tenants/capped-co/reconcile?wait=10m", alice, nil)
	if r.code != http.StatusAccepted {
		t.Fatalf("%d %s", r.code, r.body)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 10*time.Second {
		t.Fatalf("answered after %s with MaxWait 300ms", el)
	}
	if r.obj(t)["requestedAt"] == nil {
		t.Fatalf("202 without requestedAt: %s", r.body)
	}
}

// TestReconcileWaitsByDefault: without ?wait the route waits (as the Node service's answered
// with the result) and returns the handled tenant; ?wait=0 and Prefer: respond-async answer
// 202 at once, the latter with Preference-Applied; an explicit ?wait beats the preference.
func TestReconcileWaitsByDefault(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.createTenant(alice, "default-co")
	handled := make(chan string, 10)
	fakeReconciler(t, e.st, "default-co", func(ctx context.Context, tn *store.Tenant, token string) {
		now := e.st.Now()
		_ = e.st.PutStatus(ctx, &store.Status{
			ID: tn.ID, Slug: tn.Metadata.Slug, Phase: store.PhaseActive, ObservedGeneration: tn.Metadata.Generation,
			LastReconciledAt: &now, LastHandledReconcileAt: token, LeaderTerm: 1,
		})
		handled <- token
	})

	r := e.post("/tenants/default-co/reconcile", alice, nil)
	if r.code != http.StatusOK {
		t.Fatalf("no ?wait: %d %s, want 200 once handled", r.code, r.body)
	}
	v := r.obj(t)
	if tok := dig(v, "metadata", "annotations", store.AnnotationReconcileRequestedAt); tok == nil || dig(v, "status", "lastHandledReconcileAt") != tok {
		t.Fatalf("not the handled tenant: %s", r.body)
	}
	if r.header.Get(headerPreferenceApplied) != "" {
		t.Errorf("Preference-Applied %q on a waited answer", r.header.Get(headerPreferenceApplied))
	}
	<-handled

	cases := map[string]struct {
		path      string
		prefer    string
		wantCode  int
		wantApply string
	}{
		"wait=0":                  {"/tenants/default-co/reconcile?wait=0", "", http.StatusAccepted, ""},
		"respond-async":           {"/tenants/default-co/reconcile", "respond-async", http.StatusAccepted, "respond-async"},
		"respond-async in a list": {"/tenants/default-co/reconcile", "return=minimal, Respond-Async; x=1", http.StatusAccepted, "respond-async"},
		"explicit wait wins":      {"/tenants/default-co/reconcile?wait=20s", "respond-async", http.StatusOK, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.prefer != "" {
				hdr["Prefer"] = tc.prefer
			}
			start := time.Now()
			r := e.do(req{method: http.MethodPost, path: tc.path, token: alice, header: hdr})
			if r.code != tc.wantCode {
				t.Fatalf("%d %s, want %d", r.code, r.body, tc.wantCode)
			}
			if got := r.header.Get(headerPreferenceApplied); got != tc.wantApply {
				t.Errorf("Preference-Applied %q, want %q", got, tc.wantApply)
			}
			if tc.wantCode == http.StatusAccepted {
				if r.obj(t)["requestedAt"] == nil {
					t.Errorf("202 without requestedAt: %s", r.body)
				}
				t.Logf("answered after %v", time.Since(start))
			}
			<-handled // the fake controller handles every request; keep them apart
		})
	}
}
