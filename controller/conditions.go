package controller

import (
	"slices"
	"time"

	"github.com/dezky/platform-api/store"
)

// Condition types the controller writes, Kubernetes-style, kept as data in this one file.
const (
	// condReady: every step is ok|skipped for the current generation (Active or Suspended).
	condReady = "Ready"
	// condSynced: nothing is left that differs upstream from the desired state.
	condSynced = "Synced"
	// condPaused: annotations.paused=true; present only while paused.
	condPaused = "Paused"
)

// Condition reasons.
const (
	condReasonReconciled  = "Reconciled"  // Ready: every step is ok
	condReasonSuspended   = "Suspended"   // Ready: every step applied the suspension
	condReasonStepFailed  = "StepFailed"  // Ready, Synced: a step is in error
	condReasonProgressing = "Progressing" // Ready: steps pending
	condReasonDeleting    = "Deleting"    // Ready: tearing down
	condReasonPaused      = "Paused"      // Paused
	condReasonInSync      = "InSync"      // Synced: no drift left
	condReasonObserveOnly = "ObserveOnly" // Synced: drift found and left alone by policy
)

// Condition statuses.
const (
	condTrue    = "True"
	condFalse   = "False"
	condUnknown = "Unknown"
)

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
