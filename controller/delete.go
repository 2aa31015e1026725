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
// depend on the earlier ones: oCIS shares the Authentik group's name), one at a time. A failing
// Delete is recorded in its step and stops the teardown there; the tenant and its status stay
// until every step is gone, then store.DeleteTenant removes both documents with the
// memberships, subscription and events. Steps already torn down are asked again on the next
// attempt: Delete is idempotent (already gone is success), so no extra bookkeeping is needed.
// Under the ObserveOnly policy nothing is written upstream, not even to delete: only the
// documents are removed.
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
	rec.wrote, rec.outcome, rec.stepsRun = wrote, OutcomeDeleting, true
	if err != nil {
		return result{}, err
	}
	if !wrote {
		next = prev // what is stored: the base of the failure record below
	}

	if t.Spec.Policy() == store.PolicyFull {
		if res, done, err := c.teardown(ctx, req, t, prev, next, rec); !done {
			return res, err
		}
	}
	if err := c.st.DeleteTenant(ctx, t.ID); err != nil {
		return result{}, fmt.Errorf("delete tenant %s: %w", t.Metadata.Slug, err)
	}
	rec.outcome = OutcomeDeleted
	return result{}, nil
}

// teardown runs every step's Delete in reverse order; done is false when one failed (recorded in
// its step, with an event) and the tenant must stay for another attempt.
func (c *Controller) teardown(ctx context.Context, req request, t *store.Tenant, prev, stored *store.Status, rec *record) (res result, done bool, err error) {
	gen := t.Metadata.Generation
	var evs []store.Event
	defer func() {
		if rerr := c.recordEvents(ctx, t.ID, evs, false); rerr != nil {
			c.log.Warn("teardown events not recorded", "tenant", t.Metadata.Slug, "err", rerr)
		}
	}()
	for i := len(c.steps) - 1; i >= 0; i-- {
		s := c.steps[i]
		sctx, cancel := context.WithTimeout(ctx, c.o.StepTimeout)
		start := time.Now()
		err := safeDelete(sctx, s, desired(t, recordedID(prev, s.Name())))
		cancel()
		out := stepOutcome{name: s.Name(), err: err, took: time.Since(start)}
		rec.steps = append(rec.steps, out)
		if ctx.Err() != nil {
			return result{}, false, ctx.Err()
		}
		at := c.st.Now()
		if err == nil {
			if before := recordedID(prev, s.Name()); before != "" {
				evs = append(evs, c.event(t, s.Name(), at, eventNormal, eventDeleted, s.Name()+" torn down", before))
			}
			continue
		}
		failed := c.baseStatus(t, stored, at)
		applyOutcome(failed, out, gen, at)
		evs = append(evs, c.event(t, s.Name(), at, eventWarning, eventStepFailed, failed.Steps[s.Name()].Message, err.Error()))
		w, werr := c.writeStatus(ctx, req, stored, failed, at)
		rec.wrote = rec.wrote || w
		if werr != nil {
			return result{}, false, werr
		}
		if integrations.IsPermanent(err) {
			return result{}, false, nil // waits for a resync or a forced reconcile, like any permanent error
		}
		return result{requeue: true, minDelay: integrations.RetryAfterOf(err)}, false, nil
	}
	return result{}, true, nil
}
