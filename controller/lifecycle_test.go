package controller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// retryable is an upstream failure that should be retried with backoff.
func retryable(msg string) error {
	return &integrations.Error{Kind: integrations.Retryable, Op: "call upstream", Status: 503, Message: msg}
}

func stepStates(st *store.Status) map[string]string {
	out := map[string]string{}
	for n, s := range st.Steps {
		out[n] = s.State
	}
	return out
}

// TestIndependence: one step that always fails neither blocks nor rolls back the others.
func TestIndependence(t *testing.T) {
	cases := map[string]struct {
		reason string
		err    error
	}{
		"retryable": {reason: "a failure being retried", err: retryable("stalwart is down")},
		"permanent": {reason: "a failure waiting for a change", err: integrations.PermanentError("create domain", "domain owned by someone else")},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.steps[1].ensureErr = func(integrations.Desired, int) error { return tc.err }
			e.start()
			tn := e.createTenant("indep")
			var st *store.Status
			eventually(t, 20*time.Second, "stalwart recorded as failing", func() bool {
				st = e.status(tn.ID)
				return st != nil && st.Steps["stalwart"].State == store.StepError
			})
			want := map[string]string{"authentik": store.StepOK, "stalwart": store.StepError, "ocis": store.StepOK}
			if diff := cmp.Diff(want, stepStates(st)); diff != "" {
				t.Errorf("%s: step states (-want +got):\n%s", tc.reason, diff)
			}
			if st.Phase != store.PhasePending {
				t.Errorf("%s: phase %q, want Pending (never Active yet)", tc.reason, st.Phase)
			}
			// The owner reads the failure in words; the operator finds the full error in the event.
			words := integrations.Describe("mail server", tc.err)
			if msg := st.Steps["stalwart"].Message; msg != words {
				t.Errorf("%s: stalwart message %q, want %q", tc.reason, msg, words)
			}
			ready := findCondition(st.Conditions, condReady)
			if ready == nil || ready.Status != condFalse || !strings.Contains(ready.Message, words) {
				t.Errorf("%s: Ready = %+v, want False naming the failure", tc.reason, ready)
			}
			evs, err := e.st.ListEvents(context.Background(), tn.ID, 10)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, ev := range evs {
				found = found || (ev.Reason == string(eventStepFailed) && ev.Step == "stalwart" && ev.Detail == tc.err.Error() && ev.Message == words)
			}
			if !found {
				t.Errorf("%s: no StepFailed event with the full error as its detail: %+v", tc.reason, evs)
			}
			for _, f := range []*fakeStep{e.steps[0], e.steps[2]} {
				if !f.has(tn.ID.Hex()) {
					t.Errorf("%s: %s object missing: a failing step blocked another", tc.reason, f.name)
				}
			}
		})
	}
}

// TestDegraded: an Active tenant whose step later fails is Degraded, not Pending.
func TestDegraded(t *testing.T) {
	e := newEnv(t)
	e.start()
	tn := e.createTenant("degr")
	e.waitPhase(tn.ID, store.PhaseActive)
	e.steps[2].mu.Lock()
	e.steps[2].ensureErr = func(integrations.Desired, int) error { return retryable("ocis timeout") }
	e.steps[2].mu.Unlock()
	if _, err := e.st.UpdateSpec(ctxT(t), "degr", 0, func(s *store.Spec) error { s.Plan = "business"; return nil }); err != nil {
		t.Fatal(err)
	}
	st := e.waitPhase(tn.ID, store.PhaseDegraded)
	if st.ObservedGeneration != 2 || st.Steps["ocis"].State != store.StepError || st.Steps["authentik"].State != store.StepOK {
		t.Errorf("degraded status: %+v", st)
	}
}

// TestRetryBackoff: a step failing three times (retryable) then succeeding ends ok, its
// attempts counted, and the delays between its calls grow (recorded call times, not sleeps).
func TestRetryBackoff(t *testing.T) {
	const initial = 100 * time.Millisecond
	e := newEnv(t, func(o *Options) { o.BackoffInitial = initial; o.BackoffMax = 10 * time.Second })
	e.steps[0].ensureErr = func(_ integrations.Desired, n int) error {
		if n <= 3 {
			return retryable("authentik 503")
		}
		return nil
	}
	e.start()
	tn := e.createTenant("retry")
	st := e.waitPhase(tn.ID, store.PhaseActive)
	calls := e.steps[0].callsOf("observe", tn.ID.Hex())
	if len(calls) != 4 {
		t.Fatalf("authentik called %d times, want 4 (3 failures, 1 success)", len(calls))
	}
	if ss := st.Steps["authentik"]; ss.State != store.StepOK || ss.Attempts != 4 {
		t.Errorf("authentik %+v, want ok after 4 attempts", ss)
	}
	var gaps []time.Duration
	for i := 1; i < len(calls); i++ {
		gaps = append(gaps, calls[i].at.Sub(calls[i-1].at))
	}
	for i, g := range gaps {
		// Backoff i is initial·2^i ±25 %; processing only adds to a gap.
		if lo := time.Duration(float64(initial<<i) * 0.75); g < lo {
			t.Errorf("gap %d = %v, shorter than the backoff floor %v (all gaps %v)", i+1, g, lo, gaps)
		}
	}
	if gaps[2] <= gaps[0] {
		t.Errorf("delays did not grow: %v", gaps)
	}
	// Retries are requeues: the other steps ran on every attempt, each at most once per call of
	// the failing one (no hidden retry loop inside a reconcile).
	if n := len(e.steps[1].callsOf("observe", tn.ID.Hex())); n != 4 {
		t.Errorf("stalwart called %d times over 4 reconciles", n)
	}
}

// TestRetryAfter: an upstream's Retry-After is a floor under the backoff delay.
func TestRetryAfter(t *testing.T) {
	e := newEnv(t)
	e.steps[2].ensureErr = func(_ integrations.Desired, n int) error {
		if n == 1 {
			return &integrations.Error{Kind: integrations.Retryable, Op: "create space", Status: 429, RetryAfter: 700 * time.Millisecond}
		}
		return nil
	}
	e.start()
	tn := e.createTenant("after")
	e.waitPhase(tn.ID, store.PhaseActive)
	calls := e.steps[2].callsOf("observe", tn.ID.Hex())
	if len(calls) != 2 {
		t.Fatalf("ocis called %d times, want 2", len(calls))
	}
	if gap := calls[1].at.Sub(calls[0].at); gap < 700*time.Millisecond {
		t.Errorf("retried after %v, before the upstream's Retry-After of 700ms", gap)
	}
}

// TestPermanentErrorDoesNotHotLoop: a permanent failure is tried once, then again only after
// a spec change or a forced reconcile.
func TestPermanentErrorDoesNotHotLoop(t *testing.T) {
	e := newEnv(t)
	e.steps[0].ensureErr = func(integrations.Desired, int) error {
		return integrations.PermanentError("create group", "group name taken by another tenant")
	}
	e.start()
	tn := e.createTenant("perm")
	eventually(t, 20*time.Second, "authentik error recorded", func() bool {
		st := e.status(tn.ID)
		return st != nil && st.Steps["authentik"].State == store.StepError
	})
	e.waitIntervals(5)
	calls := func() int { return len(e.steps[0].callsOf("observe", tn.ID.Hex())) }
	if n := calls(); n != 1 {
		t.Fatalf("permanent error tried %d times without any change", n)
	}
	if n := e.log.count(tn.ID); n != 1 {
		t.Fatalf("%d reconciles without any change", n)
	}
	if st := e.status(tn.ID); st.Steps["authentik"].Attempts != 1 {
		t.Errorf("attempts = %d, want 1", st.Steps["authentik"].Attempts)
	}

	if _, err := e.st.UpdateSpec(ctxT(t), "perm", 0, func(s *store.Spec) error { s.Name = "Renamed"; return nil }); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "retried after the spec change", func() bool { return calls() == 2 })
	forceReconcile(t, e, "perm", "2026-11-28T10:00:00.000000001Z")
	eventually(t, 10*time.Second, "retried after a forced reconcile", func() bool { return calls() == 3 })
	e.waitIntervals(5)
	if n := calls(); n != 3 {
		t.Errorf("%d calls after one spec change and one forced reconcile, want 3", n)
	}
	if st := e.status(tn.ID); st.Steps["authentik"].Attempts != 3 {
		t.Errorf("attempts = %d, want 3 (tries since the last success)", st.Steps["authentik"].Attempts)
	}
}

// forceReconcile sets the token the way docs/ARCHITECTURE.md ("Writes, tokens and waits") documents for an operator's raw Mongo
// update: the annotation and metadata.updatedAt, nothing else.
func forceReconcile(t *testing.T, e *env, slug, token string) {
	t.Helper()
	res, err := storetest.DB(t, e.st).Collection(store.CollTenants).UpdateOne(ctxT(t), bson.D{{Key: "metadata.slug", Value: slug}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "metadata.annotations." + store.AnnotationReconcileRequestedAt, Value: token},
			{Key: "metadata.updatedAt", Value: time.Now().UTC()},
		}}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("force reconcile of %s: %v (matched %d)", slug, err, res.MatchedCount)
	}
}

// TestNoSelfTrigger: a stable Active tenant gets no reconcile and no status write from its
// own status writes, over 5 poll intervals; and a resync of it reads but writes nothing (in
// list mode it is not even observed live: the listing shows it in sync).
func TestNoSelfTrigger(t *testing.T) {
	for _, mode := range []string{ResyncList, ResyncPerTenant} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.ResyncMode = mode })
			e.start()
			testNoSelfTrigger(t, e, e.waitIntervals)
		})
	}
}

func testNoSelfTrigger(t *testing.T, e *env, wait func(int64)) {
	tn := e.createTenant("stable")
	e.waitPhase(tn.ID, store.PhaseActive)
	wait(2) // let any reconcile already queued finish
	before := e.status(tn.ID)
	reconciles, writes := e.log.count(tn.ID), e.log.written()
	wait(5)
	if n := e.log.count(tn.ID); n != reconciles {
		t.Fatalf("%d reconciles of a stable tenant over 5 poll intervals", n-reconciles)
	}
	if n := e.log.written(); n != writes {
		t.Fatalf("%d status writes while nothing changed", n-writes)
	}

	// A resync (operator request) reads and writes nothing: per tenant, one Observe per step
	// and a reconcile that writes nothing; by listing, one listing per step and no reconcile.
	calls := e.steps[0].totalCalls()
	lists := len(e.steps[0].callsOf("list", ""))
	if _, err := e.st.RequestResync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if e.opts.ResyncMode == ResyncPerTenant {
		eventually(t, 10*time.Second, "resync reconciles the tenant", func() bool { return e.log.count(tn.ID) > reconciles })
		last := e.log.all()[len(e.log.all())-1]
		if !last.StepsRun || last.StatusWritten {
			t.Errorf("resync of a stable tenant: %+v, want steps run and no write", last)
		}
		if e.steps[0].totalCalls() != calls+1 {
			t.Errorf("resync called authentik %d times", e.steps[0].totalCalls()-calls)
		}
	} else {
		eventually(t, 10*time.Second, "resync lists authentik", func() bool { return len(e.steps[0].callsOf("list", "")) > lists })
		wait(3)
		if n := e.log.count(tn.ID); n != reconciles {
			t.Errorf("%d reconciles of a stable tenant after a listing resync", n-reconciles)
		}
		if n := e.steps[0].totalCalls() - calls; n != 1 {
			t.Errorf("a listing resync made %d authentik calls, want the one listing", n)
		}
	}
	after := e.status(tn.ID)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("status changed by a no-op resync (-before +after):\n%s", diff)
	}
}

// TestForceReconcile: a new token set by a raw update runs every step exactly once and is
// echoed; the same token again runs nothing.
func TestForceReconcile(t *testing.T) {
	e := newEnv(t)
	e.start()
	tn := e.createTenant("force")
	e.waitPhase(tn.ID, store.PhaseActive)
	e.waitIntervals(2)
	base := make([]int, len(e.steps))
	for i, f := range e.steps {
		base[i] = len(f.callsOf("observe", tn.ID.Hex()))
	}
	const token = "2026-11-28T09:30:00.123456789Z"
	forceReconcile(t, e, "force", token)
	eventually(t, 10*time.Second, "token echoed", func() bool {
		st := e.status(tn.ID)
		return st != nil && st.LastHandledReconcileAt == token
	})
	e.waitIntervals(5)
	for i, f := range e.steps {
		if n := len(f.callsOf("observe", tn.ID.Hex())) - base[i]; n != 1 {
			t.Errorf("%s ran %d times for one forced reconcile", f.name, n)
		}
	}

	reconciles := e.log.count(tn.ID)
	forceReconcile(t, e, "force", token) // the same token again (updatedAt moves)
	eventually(t, 10*time.Second, "the re-set token is seen", func() bool { return e.log.count(tn.ID) > reconciles })
	e.waitIntervals(3)
	for i, f := range e.steps {
		if n := len(f.callsOf("observe", tn.ID.Hex())) - base[i]; n != 1 {
			t.Errorf("%s ran again for a token already handled (%d runs)", f.name, n)
		}
	}
	if last := e.log.all()[len(e.log.all())-1]; last.StepsRun || last.StatusWritten {
		t.Errorf("handled token again: %+v, want no step run and no write", last)
	}
}

// TestDriftRepairedByResync: an object deleted behind the controller's back is recreated by
// the next periodic resync, with no request from anyone.
func TestDriftRepairedByResync(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.ResyncInterval = 700 * time.Millisecond })
	e.start()
	tn := e.createTenant("drift")
	st := e.waitPhase(tn.ID, store.PhaseActive)
	oldID := st.Steps["ocis"].ExternalID
	e.steps[2].vanish(tn.ID.Hex())
	eventually(t, 15*time.Second, "ocis object recreated", func() bool { return e.steps[2].has(tn.ID.Hex()) })
	if n := e.steps[2].createdCount(tn.ID.Hex()); n != 2 {
		t.Errorf("ocis object created %d times, want 2 (original + repair)", n)
	}
	eventually(t, 10*time.Second, "new external id recorded", func() bool {
		st := e.status(tn.ID)
		return st.Steps["ocis"].ExternalID != oldID && st.Phase == store.PhaseActive
	})
	// The event is inserted after the status write, so wait for it rather than read once.
	var evs []store.Event
	createdEvents := func() int {
		var err error
		if evs, err = e.st.ListEvents(ctxT(t), tn.ID, 50); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range evs {
			if ev.Step == "ocis" && ev.Reason == "Created" {
				n++
			}
		}
		return n
	}
	eventually(t, 10*time.Second, "the repair's Created event", func() bool { return createdEvents() >= 2 })
	if created := createdEvents(); created != 2 {
		t.Errorf("%d ocis Created events, want 2: %+v", created, evs)
	}
}

// TestPauseAndUnpause: a paused tenant gets the Paused condition and no upstream call, even
// when its spec changes; unpaused, the change is applied.
func TestPauseAndUnpause(t *testing.T) {
	e := newEnv(t)
	e.start()
	tn := e.createTenant("pause")
	e.waitPhase(tn.ID, store.PhaseActive)
	if _, err := e.st.SetAnnotation(ctxT(t), "pause", store.AnnotationPaused, "true"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Paused condition", func() bool {
		c := findCondition(e.status(tn.ID).Conditions, condPaused)
		return c != nil && c.Status == condTrue
	})
	calls := e.steps[0].totalCalls()
	reconciles := e.log.count(tn.ID)
	if _, err := e.st.UpdateSpec(ctxT(t), "pause", 0, func(s *store.Spec) error { s.Name = "While paused"; return nil }); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the change is seen", func() bool { return e.log.count(tn.ID) > reconciles })
	e.waitIntervals(3)
	if n := e.steps[0].totalCalls(); n != calls {
		t.Fatalf("%d upstream calls for a paused tenant", n-calls)
	}
	if st := e.status(tn.ID); st.ObservedGeneration != 1 || st.Phase != store.PhaseActive {
		t.Errorf("paused tenant's status moved: generation %d phase %s", st.ObservedGeneration, st.Phase)
	}

	if _, err := e.st.SetAnnotation(ctxT(t), "pause", store.AnnotationPaused, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "generation 2 applied after unpause", func() bool {
		st := e.status(tn.ID)
		return st.ObservedGeneration == 2 && st.Phase == store.PhaseActive && findCondition(st.Conditions, condPaused) == nil
	})
	if n := e.steps[0].totalCalls(); n != calls+1 {
		t.Errorf("authentik called %d times after unpause, want 1", n-calls)
	}
}

// TestPausedTenantIsNotDeleted: deletion of a paused tenant waits for the unpause (the paused
// check comes first, docs/ARCHITECTURE.md "Reconcile paths").
func TestPausedTenantIsNotDeleted(t *testing.T) {
	e := newEnv(t)
	e.start()
	ctx := ctxT(t)
	tn := e.createTenant("paused-del")
	e.waitPhase(tn.ID, store.PhaseActive)
	if _, err := e.st.SetAnnotation(ctx, "paused-del", store.AnnotationPaused, "true"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.RequestDeletion(ctx, "paused-del"); err != nil {
		t.Fatal(err)
	}
	e.waitIntervals(5)
	if _, err := e.st.GetTenantByID(ctx, tn.ID); err != nil {
		t.Fatalf("paused tenant deleted: %v", err)
	}
	for _, f := range e.steps {
		if n := len(f.callsOf("delete", tn.ID.Hex())); n != 0 {
			t.Errorf("%s torn down %d times while paused", f.name, n)
		}
	}
	if _, err := e.st.SetAnnotation(ctx, "paused-del", store.AnnotationPaused, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "deleted after unpause", func() bool {
		_, err := e.st.GetTenantByID(ctx, tn.ID)
		return errors.Is(err, store.ErrNotFound)
	})
}

// TestSpecChangeDuringReconcile: a change while the tenant is being reconciled leads to
// exactly one more reconcile afterwards, never to two at once.
func TestSpecChangeDuringReconcile(t *testing.T) {
	e := newEnv(t)
	gate := make(chan struct{})
	entered := make(chan string, 8)
	e.steps[1].gate, e.steps[1].entered = gate, entered
	e.start()
	tn := e.createTenant("during")
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("first reconcile did not start")
	}
	if _, err := e.st.UpdateSpec(ctxT(t), "during", 0, func(s *store.Spec) error { s.Plan = "business"; return nil }); err != nil {
		t.Fatal(err)
	}
	e.waitIntervals(3) // the change is queued behind the running reconcile
	if n := e.log.count(tn.ID); n != 0 {
		t.Fatalf("%d reconciles finished while the first was held", n)
	}
	e.steps[1].mu.Lock()
	e.steps[1].gate = nil
	e.steps[1].mu.Unlock()
	close(gate)
	eventually(t, 20*time.Second, "generation 2 Active", func() bool {
		st := e.status(tn.ID)
		return st != nil && st.ObservedGeneration == 2 && st.Phase == store.PhaseActive
	})
	e.waitIntervals(5)
	if n := e.log.count(tn.ID); n != 2 {
		t.Errorf("%d reconciles, want exactly 2 (the held one, then one for the change)", n)
	}
	if n := len(e.steps[1].callsOf("observe", tn.ID.Hex())); n != 2 {
		t.Errorf("stalwart ensured %d times, want 2", n)
	}
}

// TestStepTimeout: a hung step is cut off at StepTimeout, recorded as a retryable error, and
// the other steps are not held up.
func TestStepTimeout(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.StepTimeout = 200 * time.Millisecond; o.BackoffInitial = time.Minute })
	e.steps[2].gate = make(chan struct{}) // never opens
	e.start()
	tn := e.createTenant("hung")
	var st *store.Status
	eventually(t, 20*time.Second, "ocis error recorded", func() bool {
		st = e.status(tn.ID)
		return st != nil && st.Steps["ocis"].State == store.StepError
	})
	if !strings.Contains(st.Steps["ocis"].Message, "did not answer in time") || st.Steps["authentik"].State != store.StepOK {
		t.Errorf("status %+v", st.Steps)
	}
	eventually(t, 10*time.Second, "reconcile reported", func() bool { return e.log.len() > 0 })
	if r := e.log.all()[0]; r.Duration > 3*time.Second {
		t.Errorf("reconcile took %v with a 200ms step timeout", r.Duration)
	}
}
