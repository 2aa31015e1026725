package controller

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
)

// Condition types and reasons written by the controller.
const (
	condReady  = "Ready"
	condPaused = "Paused"

	condReasonReconciled  = "Reconciled"
	condReasonSuspended   = "Suspended"
	condReasonStepFailed  = "StepFailed"
	condReasonProgressing = "Progressing"
	condReasonDeleting    = "Deleting"
	condReasonPaused      = "Paused"
)

// Condition statuses.
const (
	condTrue    = "True"
	condFalse   = "False"
	condUnknown = "Unknown"
)

// reconcileToken is the tenant's force-reconcile token ("" when never set).
func reconcileToken(t *store.Tenant) string {
	return t.Metadata.Annotations[store.AnnotationReconcileRequestedAt]
}

// isPaused reports the paused annotation.
func isPaused(t *store.Tenant) bool {
	return t.Metadata.Annotations[store.AnnotationPaused] == "true"
}

// baseStatus is what this reconcile builds on: a deep copy of the stored status (so the
// stored one stays to compare with), or a fresh one with every step pending.
func (c *Controller) baseStatus(t *store.Tenant, prev *store.Status, now time.Time) *store.Status {
	next := &store.Status{ID: t.ID, Slug: t.Metadata.Slug, Phase: store.PhasePending, Steps: map[string]store.StepStatus{}}
	if prev != nil {
		next.Phase = prev.Phase
		next.ObservedGeneration = prev.ObservedGeneration
		next.LastReconciledAt = prev.LastReconciledAt
		next.LastHandledReconcileAt = prev.LastHandledReconcileAt
		next.LeaderTerm = prev.LeaderTerm
		next.Conditions = slices.Clone(prev.Conditions)
		maps.Copy(next.Steps, prev.Steps)
	} else {
		next.Conditions = []store.Condition{{Type: condReady, Status: condUnknown, Reason: condReasonProgressing,
			Message: "not reconciled yet", LastTransitionTime: now}}
	}
	next.Slug = t.Metadata.Slug
	for _, s := range c.steps {
		if _, ok := next.Steps[s.Name()]; !ok {
			next.Steps[s.Name()] = store.StepStatus{State: store.StepPending, LastTransitionTime: now}
		}
	}
	return next
}

// upToDate reports whether the stored status already answers the tenant as read: its
// generation observed by the status and by every step, its force token handled, no step left
// pending, not paused. A change event for such a tenant needs no upstream call (the event was
// a label, a re-set token, a hand-touched updatedAt). Steps in error count as up to date: a
// permanent error waits for a spec change, a resync or a forced reconcile, and a retryable one
// is already queued for its retry.
func (c *Controller) upToDate(t *store.Tenant, prev *store.Status) bool {
	gen := t.Metadata.Generation
	if prev == nil || prev.ObservedGeneration != gen || prev.Phase == store.PhaseDeleting {
		return false
	}
	if tok := reconcileToken(t); tok != "" && tok != prev.LastHandledReconcileAt {
		return false
	}
	if findCondition(prev.Conditions, condPaused) != nil {
		return false
	}
	for _, s := range c.steps {
		ss, ok := prev.Steps[s.Name()]
		if !ok || ss.ObservedGeneration != gen || ss.State == store.StepPending {
			return false
		}
	}
	return true
}

// applyOutcome records one step's Ensure result for generation gen.
//
//   - success: state ok (or skipped), the step's message and external id; attempts is the
//     number of tries the success took (failures since the last success, plus one) and is left
//     alone when the step was already in that state, so a stable resync changes nothing;
//   - failure: state error with the error's text; attempts counts tries since the last
//     success; the external id recorded before is kept (the object may well still exist).
//
// lastTransitionTime moves only when the state changes.
func applyOutcome(next *store.Status, o stepOutcome, gen int64, now time.Time) {
	prev := next.Steps[o.name]
	s := prev
	s.ObservedGeneration = gen
	if o.err == nil {
		s.State = store.StepOK
		if o.obs.Skipped {
			s.State = store.StepSkipped
		}
		s.Message = o.obs.Message
		if o.obs.ExternalID != "" || o.obs.Skipped {
			s.ExternalID = o.obs.ExternalID
		}
		switch prev.State {
		case store.StepError:
			s.Attempts = prev.Attempts + 1
		case s.State:
			// stable: attempts untouched
		default:
			s.Attempts = 1
		}
	} else {
		s.State = store.StepError
		s.Message = o.err.Error()
		if prev.State == store.StepError {
			s.Attempts = prev.Attempts + 1
		} else {
			s.Attempts = 1
		}
	}
	if s.State != prev.State {
		s.LastTransitionTime = now
	}
	next.Steps[o.name] = s
}

// summarise sets phase, the Ready condition, observedGeneration and the handled reconcile token
// from the steps' states (DESIGN §4, §10):
//
//   - every step ok|skipped for the current generation: Active, or Suspended when
//     spec.suspended (the steps applied it); Ready True;
//   - otherwise Degraded if the tenant was ever Active (Active, Degraded or Suspended before),
//     else Pending; Ready False with the failing steps' messages, Unknown if none failed.
func (c *Controller) summarise(next *store.Status, t *store.Tenant, prev *store.Status, now time.Time) {
	gen := t.Metadata.Generation
	allGood := true
	var failures []string
	for _, s := range c.steps {
		ss := next.Steps[s.Name()]
		if ss.ObservedGeneration != gen || (ss.State != store.StepOK && ss.State != store.StepSkipped) {
			allGood = false
		}
		if ss.State == store.StepError {
			failures = append(failures, s.Name()+": "+ss.Message)
		}
	}
	wasActive := prev != nil && (prev.Phase == store.PhaseActive || prev.Phase == store.PhaseDegraded || prev.Phase == store.PhaseSuspended)
	ready := store.Condition{Type: condReady, ObservedGeneration: gen}
	switch {
	case allGood && t.Spec.Suspended:
		next.Phase = store.PhaseSuspended
		ready.Status, ready.Reason, ready.Message = condTrue, condReasonSuspended, "every step applied the suspension"
	case allGood:
		next.Phase = store.PhaseActive
		ready.Status, ready.Reason, ready.Message = condTrue, condReasonReconciled, "every step is ok"
	default:
		next.Phase = store.PhasePending
		if wasActive {
			next.Phase = store.PhaseDegraded
		}
		ready.Status, ready.Reason, ready.Message = condUnknown, condReasonProgressing, "steps pending"
		if len(failures) > 0 {
			ready.Status, ready.Reason, ready.Message = condFalse, condReasonStepFailed, strings.Join(failures, "; ")
		}
	}
	next.Conditions = setCondition(next.Conditions, ready, now)
	next.Conditions = removeCondition(next.Conditions, condPaused)
	next.ObservedGeneration = gen
	if tok := reconcileToken(t); tok != "" {
		next.LastHandledReconcileAt = tok
	}
}

// setCondition replaces the condition of cond's type (appending it if absent); its
// lastTransitionTime moves only when its status changes.
func setCondition(conds []store.Condition, cond store.Condition, now time.Time) []store.Condition {
	for i, cur := range conds {
		if cur.Type != cond.Type {
			continue
		}
		cond.LastTransitionTime = cur.LastTransitionTime
		if cur.Status != cond.Status {
			cond.LastTransitionTime = now
		}
		out := slices.Clone(conds)
		out[i] = cond
		return out
	}
	cond.LastTransitionTime = now
	return append(slices.Clone(conds), cond)
}

func removeCondition(conds []store.Condition, typ string) []store.Condition {
	if findCondition(conds, typ) == nil {
		return conds
	}
	return slices.DeleteFunc(slices.Clone(conds), func(c store.Condition) bool { return c.Type == typ })
}

func findCondition(conds []store.Condition, typ string) *store.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// sameStatus reports whether a and b differ only in what a no-op reconcile may not write:
// lastReconciledAt and leaderTerm. This is the rule "write the status only if something
// other than timestamps changed" (DESIGN §10): a stable tenant's resync writes nothing, and a
// new leader does not rewrite every status just to stamp its term.
func sameStatus(a, b *store.Status) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.ID != b.ID || a.Slug != b.Slug || a.Phase != b.Phase || a.ObservedGeneration != b.ObservedGeneration ||
		a.LastHandledReconcileAt != b.LastHandledReconcileAt {
		return false
	}
	if !slices.EqualFunc(a.Conditions, b.Conditions, func(x, y store.Condition) bool {
		return x.Type == y.Type && x.Status == y.Status && x.Reason == y.Reason && x.Message == y.Message &&
			x.ObservedGeneration == y.ObservedGeneration && x.LastTransitionTime.Equal(y.LastTransitionTime)
	}) {
		return false
	}
	return maps.EqualFunc(a.Steps, b.Steps, func(x, y store.StepStatus) bool {
		return x.State == y.State && x.Message == y.Message && x.ExternalID == y.ExternalID &&
			x.ObservedGeneration == y.ObservedGeneration && x.Attempts == y.Attempts &&
			x.LastTransitionTime.Equal(y.LastTransitionTime)
	})
}

// stepOutcome is one step's Ensure (or Delete) result.
type stepOutcome struct {
	name string
	obs  integrations.Observed
	err  error
	took time.Duration
}
