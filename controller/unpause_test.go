package controller

import (
	"testing"
	"time"

	"github.com/dezky/platform-api/store"
)

// TestUnpauseAloneRunsTheSteps: an unpause is a change of annotations only (generation
// unchanged, status otherwise current), yet it must run every step at once: whatever drifted
// while the operator worked by hand is repaired without waiting for a resync. A token set
// while paused is not handled (paused: nothing runs), and is handled by that same run.
func TestUnpauseAloneRunsTheSteps(t *testing.T) {
	e := newEnv(t) // ResyncInterval is an hour: only change events can do it
	e.start()
	ctx := ctxT(t)
	tn := e.createTenant("unpause")
	e.waitPhase(tn.ID, store.PhaseActive)
	if _, err := e.st.SetAnnotation(ctx, "unpause", store.AnnotationPaused, "true"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Paused condition", func() bool {
		return findCondition(e.status(tn.ID).Conditions, condPaused) != nil
	})
	e.steps[2].vanish(tn.ID.Hex()) // drift while paused
	const token = "2026-11-28T11:00:00Z"
	reconciles := e.log.count(tn.ID)
	forceReconcile(t, e, "unpause", token)
	eventually(t, 10*time.Second, "the forced reconcile is seen", func() bool { return e.log.count(tn.ID) > reconciles })
	if e.steps[2].has(tn.ID.Hex()) {
		t.Fatal("a paused tenant was repaired")
	}
	if st := e.status(tn.ID); st.LastHandledReconcileAt == token {
		t.Error("a paused tenant's token was reported handled")
	}
	calls := len(e.steps[0].callsOf("observe", tn.ID.Hex()))

	if _, err := e.st.SetAnnotation(ctx, "unpause", store.AnnotationPaused, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "repaired and Active after unpause", func() bool {
		st := e.status(tn.ID)
		return e.steps[2].has(tn.ID.Hex()) && st.Phase == store.PhaseActive &&
			findCondition(st.Conditions, condPaused) == nil && st.LastHandledReconcileAt == token
	})
	e.waitIntervals(3)
	if n := len(e.steps[0].callsOf("observe", tn.ID.Hex())) - calls; n != 1 {
		t.Errorf("authentik ensured %d times after the unpause, want 1", n)
	}
	if st := e.status(tn.ID); st.ObservedGeneration != 1 {
		t.Errorf("observedGeneration %d, want 1 (an unpause is no spec change)", st.ObservedGeneration)
	}
}
