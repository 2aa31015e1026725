package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
)

// This file is the controller's status code in one place: the base a reconcile builds on, how
// one step's outcome is recorded, how the steps are summarised into phase and conditions, how a
// new status is compared with the stored one, and the one write.

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
		next.LastDriftCheck = prev.LastDriftCheck
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
// pending for lack of an attempt, not paused. A change event for such a tenant needs no
// upstream call (the event was a label, a re-set token, a hand-touched updatedAt). Steps in
// error count as up to date: a permanent error waits for a spec change, a resync or a forced
// reconcile, and a retryable one is already queued for its retry. A step pending with drift
// (observe only) was observed for this generation: up to date too.
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
		if !ok || ss.ObservedGeneration != gen || (ss.State == store.StepPending && len(ss.Drift) == 0) {
			return false
		}
	}
	return true
}

// msgObserveOnly is the message of a step whose drift the ObserveOnly policy leaves alone.
const msgObserveOnly = "observe only: %d field(s) differ"

// applyOutcome records one step's outcome for generation gen.
//
//   - failure: state error with the failure described in owner-safe words (the full error goes
//     to logs and events); attempts counts tries since the last success; the external id and the
//     drift recorded before are kept when the step could not observe (they are the last known);
//   - skipped: state skipped, no drift;
//   - drift left alone (ObserveOnly): state pending, message and the drift list;
//   - otherwise ok, with Apply's message (or Observe's), no drift; attempts is the number of
//     tries the success took and is left alone when the step was already ok, so a stable resync
//     changes nothing.
//
// lastTransitionTime moves only when the state changes.
func applyOutcome(next *store.Status, o stepOutcome, gen int64, now time.Time) {
	prev := next.Steps[o.name]
	s := prev
	s.ObservedGeneration = gen
	switch {
	case o.err != nil:
		s.State = store.StepError
		s.Message = integrations.Describe(integrations.UpstreamNoun(o.name), o.err)
		if o.observed {
			s.Drift = storeDrift(o.obs.Drift)
		}
	case o.obs.Skipped:
		s.State, s.Message, s.Drift = store.StepSkipped, o.obs.Message, nil
	case len(o.obs.Drift) > 0 && !o.applied:
		s.State, s.Message, s.Drift = store.StepPending, fmt.Sprintf(msgObserveOnly, len(o.obs.Drift)), storeDrift(o.obs.Drift)
	default:
		s.State, s.Message, s.Drift = store.StepOK, o.obs.Message, nil
		if o.applied {
			s.Message = o.res.Message
		}
	}
	switch {
	case o.applied:
		// Apply knows best; "" after a teardown (mail removed) is recorded too.
		if o.err == nil || o.res.ExternalID != "" {
			s.ExternalID = o.res.ExternalID
		}
	case o.obs.Skipped:
		s.ExternalID = ""
	case o.observed && o.obs.Exists && o.obs.Owner != integrations.Foreign:
		s.ExternalID = o.obs.ExternalID
	}
	switch {
	case s.State == store.StepError && prev.State == store.StepError:
		s.Attempts = prev.Attempts + 1
	case s.State == store.StepError:
		s.Attempts = 1
	case prev.State == store.StepError:
		s.Attempts = prev.Attempts + 1
	case prev.State == s.State:
		// stable: attempts untouched
	default:
		s.Attempts = 1
	}
	if s.State != prev.State {
		s.LastTransitionTime = now
	}
	next.Steps[o.name] = s
}

// storeDrift converts a step's drift for the status document (nil when none).
func storeDrift(in []integrations.Drift) []store.Drift {
	if len(in) == 0 {
		return nil
	}
	out := make([]store.Drift, len(in))
	for i, d := range in {
		out[i] = store.Drift{Field: d.Field, Want: d.Want, Got: d.Got}
	}
	return out
}

// summarise sets phase, the Ready and Synced conditions, observedGeneration and the handled
// reconcile token from the steps' states:
//
//   - every step ok|skipped for the current generation: Active, or Suspended when
//     spec.suspended (the steps applied it); Ready True;
//   - otherwise Degraded if the tenant was ever Active (Active, Degraded or Suspended before),
//     else Pending; Ready False with the failing steps' messages, Unknown if none failed;
//   - Synced True when no step holds drift, False (reason ObserveOnly under that policy) when
//     one does.
func (c *Controller) summarise(next *store.Status, t *store.Tenant, prev *store.Status, now time.Time) {
	gen := t.Metadata.Generation
	allGood := true
	var failures, drifted []string
	for _, s := range c.steps {
		ss := next.Steps[s.Name()]
		if ss.ObservedGeneration != gen || (ss.State != store.StepOK && ss.State != store.StepSkipped) {
			allGood = false
		}
		if ss.State == store.StepError {
			failures = append(failures, s.Name()+": "+ss.Message)
		}
		if len(ss.Drift) > 0 {
			drifted = append(drifted, fmt.Sprintf("%s: %d field(s)", s.Name(), len(ss.Drift)))
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
	synced := store.Condition{Type: condSynced, Status: condTrue, Reason: condReasonInSync,
		Message: "no drift left upstream", ObservedGeneration: gen}
	if len(drifted) > 0 {
		synced.Status, synced.Reason = condFalse, condReasonStepFailed
		if t.Spec.Policy() == store.PolicyObserveOnly {
			synced.Reason = condReasonObserveOnly
		}
		synced.Message = "drift left: " + strings.Join(drifted, "; ")
	}
	next.Conditions = setCondition(next.Conditions, ready, now)
	next.Conditions = setCondition(next.Conditions, synced, now)
	next.Conditions = removeCondition(next.Conditions, condPaused)
	next.ObservedGeneration = gen
	if tok := reconcileToken(t); tok != "" {
		next.LastHandledReconcileAt = tok
	}
}

// driftCheckOf is the answer to a drift-check token, from the steps' observations (taken
// before any Apply of the same reconcile): in sync when no step found drift or failed.
func driftCheckOf(token string, outcomes []stepOutcome, now time.Time) *store.DriftCheck {
	dc := &store.DriftCheck{Token: token, CheckedAt: now, InSync: true, Steps: make(map[string]store.StepDriftCheck, len(outcomes))}
	for _, o := range outcomes {
		sc := store.StepDriftCheck{Exists: o.obs.Exists, Drift: storeDrift(o.obs.Drift), Message: o.obs.Message}
		if sc.Drift == nil {
			sc.Drift = []store.Drift{}
		}
		if !o.observed {
			sc.Message = integrations.Describe(integrations.UpstreamNoun(o.name), o.err)
		}
		if !o.observed || o.obs.Owner == integrations.Foreign || len(sc.Drift) > 0 {
			dc.InSync = false
		}
		dc.Steps[o.name] = sc
	}
	return dc
}

// sameStatus reports whether a and b differ only in what a no-op reconcile may not write:
// lastReconciledAt and leaderTerm. This is the rule "write the status only if something other
// than timestamps changed": a stable tenant's resync writes nothing, and a new leader does not
// rewrite every status just to stamp its term.
func sameStatus(a, b *store.Status) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.ID != b.ID || a.Slug != b.Slug || a.Phase != b.Phase || a.ObservedGeneration != b.ObservedGeneration ||
		a.LastHandledReconcileAt != b.LastHandledReconcileAt || !sameDriftCheck(a.LastDriftCheck, b.LastDriftCheck) {
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
			x.LastTransitionTime.Equal(y.LastTransitionTime) && slices.Equal(x.Drift, y.Drift)
	})
}

// sameDriftCheck compares two drift-check answers by token: a token is answered once.
func sameDriftCheck(a, b *store.DriftCheck) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Token == b.Token
}

// writeStatus writes next when it differs from prev in more than timestamps (sameStatus),
// stamping lastReconciledAt (unless the pass only answered a drift check: nothing was
// reconciled) and our term. It reports whether it wrote.
func (c *Controller) writeStatus(ctx context.Context, req request, prev, next *store.Status, now time.Time) (bool, error) {
	if sameStatus(prev, next) {
		return false, nil
	}
	if !req.checkOnly {
		next.LastReconciledAt = &now
	}
	next.LeaderTerm = req.term
	if err := c.st.PutStatus(ctx, next); err != nil {
		return false, fmt.Errorf("write status of %s: %w", next.Slug, err)
	}
	return true, nil
}
