package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
)

// reconcileDelete tears a tenant down: phase Deleting (written first, so the API shows it while
// the upstreams are slow), then every step's Delete in reverse order (the last step set up may
// depend on the earlier ones: oCIS shares the Authentik group), one at a time. A failing Delete
// is recorded in its step and stops the teardown there; the tenant and its status stay until
// every step is gone, then store.DeleteTenant removes both documents with the memberships,
// subscription and events. Steps already torn down are asked again on the next attempt:
// Delete is idempotent (already gone is success), so no extra bookkeeping is needed.
func (c *Controller) reconcileDelete(ctx context.Context, req request, t *store.Tenant, prev *store.Status, rec *record) (result, error) {
	gen := t.Metadata.Generation
	now := c.st.Now()
	next := c.baseStatus(t, prev, now)
	next.Phase = store.PhaseDeleting
	next.ObservedGeneration = gen
	next.Conditions = setCondition(next.Conditions, store.Condition{
		Type: condReady, Status: condFalse, Reason: condReasonDeleting,
		Message: "tearing the upstreams down", ObservedGeneration: gen,
	}, now)
	if tok := reconcileToken(t); tok != "" {
		next.LastHandledReconcileAt = tok
	}
	wrote, err := c.writeStatus(ctx, req, prev, next, now)
	rec.wrote, rec.outcome, rec.stepsRun = wrote, "deleting", true
	if err != nil {
		return result{}, err
	}
	if !wrote {
		next = prev // what is stored: the base of the failure record below
	}

	for i := len(c.steps) - 1; i >= 0; i-- {
		s := c.steps[i]
		sctx, cancel := context.WithTimeout(ctx, c.o.StepTimeout)
		start := time.Now()
		err := safeDelete(sctx, s, desired(t, recordedID(prev, s.Name())))
		cancel()
		rec.steps = append(rec.steps, stepOutcome{name: s.Name(), err: err, took: time.Since(start)})
		if ctx.Err() != nil {
			return result{}, ctx.Err()
		}
		if err == nil {
			continue
		}
		at := c.st.Now()
		failed := c.baseStatus(t, next, at)
		applyOutcome(failed, stepOutcome{name: s.Name(), err: err}, gen, at)
		w, werr := c.writeStatus(ctx, req, next, failed, at)
		rec.wrote = rec.wrote || w
		if werr != nil {
			return result{}, werr
		}
		if integrations.IsPermanent(err) {
			return result{}, nil // waits for a resync or a forced reconcile, like any permanent error
		}
		return result{requeue: true, minDelay: integrations.RetryAfterOf(err)}, nil
	}

	if err := c.st.DeleteTenant(ctx, t.ID); err != nil {
		return result{}, fmt.Errorf("delete tenant %s: %w", t.Metadata.Slug, err)
	}
	rec.outcome = "deleted"
	return result{}, nil
}
