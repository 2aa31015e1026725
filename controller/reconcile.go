package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
)

// request is one unit of work: a tenant, why it was queued, and the term to fence writes with.
type request struct {
	id   bson.ObjectID
	why  trigger
	term int64
	// checkOnly is set by reconcileSteps when the pass only answers a drift check.
	checkOnly bool
}

// result is the reconciler's verdict, turned into queue calls in one place (processNextItem):
// done (Forget), requeue with backoff no sooner than minDelay, or hold (leave the backoff as it
// is: nothing was retried).
type result struct {
	requeue     bool
	minDelay    time.Duration
	holdBackoff bool
}

// Outcome says what one reconcile did (ReconcileInfo.Result, the reconcile log line).
type Outcome string

// Reconcile outcomes.
const (
	OutcomeGone         Outcome = "gone"          // the tenant no longer exists
	OutcomePaused       Outcome = "paused"        // annotations.paused=true: nothing touched
	OutcomeUpToDate     Outcome = "up to date"    // a change event for a current status: no call
	OutcomeReconciled   Outcome = "reconciled"    // every step observed, applied where allowed
	OutcomeDriftChecked Outcome = "drift checked" // a drift check only: observed, nothing applied
	OutcomeDeleting     Outcome = "deleting"      // teardown in progress (a step failed or is slow)
	OutcomeDeleted      Outcome = "deleted"       // torn down and both documents removed
	OutcomeError        Outcome = "error"         // the store failed
)

// record is what one reconcile reports to logs, metrics and Options.OnReconcile.
type record struct {
	slug     string
	gen      int64
	outcome  Outcome
	stepsRun bool
	wrote    bool
	steps    []stepOutcome
}

// reconcile brings one tenant one step closer to its desired state. It reads the tenant and
// its status, then takes exactly one of four paths:
//
//   - tenant gone: nothing to do (its status went with it);
//   - paused: record the Paused condition and touch nothing upstream, not even to delete: an
//     operator who paused a tenant is working on its upstreams by hand;
//   - deletion requested: tear the steps down in reverse order, then delete both documents;
//   - otherwise: unless this is a change event for a tenant whose status is already current
//     and no drift check is pending, observe every step, apply where the policy allows,
//     summarise, write the status if it changed, record events.
func (c *Controller) reconcile(ctx context.Context, req request) (res result, err error) {
	start := time.Now()
	rec := &record{}
	defer func() { c.observe(req, rec, start, res, err) }()

	t, err := c.st.GetTenantByID(ctx, req.id)
	if errors.Is(err, store.ErrNotFound) {
		rec.outcome = OutcomeGone
		return result{}, nil
	}
	if err != nil {
		return result{}, fmt.Errorf("reconcile %s: %w", req.id.Hex(), err)
	}
	rec.slug, rec.gen = t.Metadata.Slug, t.Metadata.Generation
	prev, err := c.st.GetStatus(ctx, req.id)
	if errors.Is(err, store.ErrNotFound) {
		prev, err = nil, nil
	}
	if err != nil {
		return result{}, fmt.Errorf("reconcile %s: %w", t.Metadata.Slug, err)
	}

	switch {
	case isPaused(t):
		return c.reconcilePaused(ctx, req, t, prev, rec)
	case t.Metadata.DeletionRequestedAt != nil:
		return c.reconcileDelete(ctx, req, t, prev, rec)
	}
	full := req.why.full() || !c.upToDate(t, prev)
	check := driftCheckPending(t, prev)
	if !full && !check {
		// A change event that changed nothing the controller acts on (a label, the handled
		// token set again, a hand-touched updatedAt): no upstream call, no write.
		rec.outcome = OutcomeUpToDate
		return result{holdBackoff: anyStepError(prev)}, nil
	}
	return c.reconcileSteps(ctx, req, t, prev, rec, full, check)
}

// reconcileSteps observes every step, applies where the policy allows (full), answers a pending
// drift check from the observations taken before any Apply (check), then summarises and writes
// once. A pass for a drift check alone applies nothing, whatever the policy, and leaves the
// steps' states and lastHandledReconcileAt as they are.
func (c *Controller) reconcileSteps(ctx context.Context, req request, t *store.Tenant, prev *store.Status, rec *record, full, check bool) (result, error) {
	apply := full && t.Spec.Policy() == store.PolicyFull
	outcomes := c.runSteps(ctx, t, prev, apply)
	rec.stepsRun = true
	if full {
		rec.steps = outcomes
	}
	if ctx.Err() != nil {
		// Leadership ended while the steps ran: their errors are ours, not the upstreams'.
		return result{}, ctx.Err()
	}
	now := c.st.Now()
	next := c.baseStatus(t, prev, now)
	if check {
		next.LastDriftCheck = driftCheckOf(driftCheckToken(t), outcomes, now)
	}
	req.checkOnly = !full
	if full {
		for _, o := range outcomes {
			applyOutcome(next, o, t.Metadata.Generation, now)
		}
		c.summarise(next, t, prev, now)
	}
	wrote, err := c.writeStatus(ctx, req, prev, next, now)
	rec.wrote = wrote
	if err != nil {
		return result{}, err
	}
	if !full {
		rec.outcome = OutcomeDriftChecked
		return result{holdBackoff: anyStepError(prev)}, nil
	}
	if err := c.recordEvents(ctx, t.ID, c.eventsOf(t, prev, next, outcomes, now), prev == nil); err != nil {
		// Events are for `describe`; losing one must not fail the reconcile.
		c.log.Warn("reconcile events not recorded", "tenant", t.Metadata.Slug, "err", err)
	}
	rec.outcome = OutcomeReconciled
	return retryPolicy(outcomes), nil
}

// reconcilePaused records the Paused condition (once) and stops: an operator paused the
// tenant to work on its upstreams by hand, so not even a read goes upstream.
func (c *Controller) reconcilePaused(ctx context.Context, req request, t *store.Tenant, prev *store.Status, rec *record) (result, error) {
	now := c.st.Now()
	next := c.baseStatus(t, prev, now)
	next.Conditions = setCondition(next.Conditions, store.Condition{
		Type: condPaused, Status: condTrue, Reason: condReasonPaused,
		Message: "annotation paused=true: the controller leaves this tenant alone", ObservedGeneration: t.Metadata.Generation,
	}, now)
	wrote, err := c.writeStatus(ctx, req, prev, next, now)
	rec.wrote, rec.outcome = wrote, OutcomePaused
	return result{}, err
}

// observe logs one reconcile, counts it and calls Options.OnReconcile.
func (c *Controller) observe(req request, rec *record, start time.Time, res result, err error) {
	took := time.Since(start)
	outcome := resultSuccess
	switch {
	case err != nil:
		outcome = resultError
		rec.outcome = OutcomeError
	case res.requeue || anyFailed(rec.steps):
		outcome = resultStepError
	}
	c.m.reconciles.WithLabelValues(outcome).Inc()
	c.m.duration.Observe(took.Seconds())
	for _, o := range rec.steps {
		c.m.steps.WithLabelValues(o.name, stepState(o)).Inc()
	}

	level := slog.LevelDebug
	if rec.wrote || err != nil {
		level = slog.LevelInfo
	}
	if c.log.Enabled(context.Background(), level) {
		attrs := []slog.Attr{
			slog.String("tenant", rec.slug), slog.String("id", req.id.Hex()), slog.Int64("generation", rec.gen),
			slog.String("why", req.why.String()), slog.String("result", string(rec.outcome)),
			slog.Bool("statusWritten", rec.wrote), slog.Duration("duration", took),
		}
		for _, o := range rec.steps {
			step := []any{slog.String("state", stepState(o)), slog.Duration("duration", o.took)}
			if o.err != nil {
				step = append(step, slog.String("error", o.err.Error()))
			} else if o.applied {
				step = append(step, slog.String("action", string(o.res.Action)))
			}
			if len(o.obs.Drift) > 0 {
				step = append(step, slog.String("drift", driftText(o.obs.Drift)))
			}
			attrs = append(attrs, slog.Group("step."+o.name, step...))
		}
		if err != nil {
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		c.log.LogAttrs(context.Background(), level, "reconcile", attrs...)
	}
	if c.o.OnReconcile != nil {
		c.o.OnReconcile(ReconcileInfo{
			TenantID: req.id, Slug: rec.slug, Generation: rec.gen, Started: start, Duration: took,
			Result: rec.outcome, StepsRun: rec.stepsRun, StatusWritten: rec.wrote, Err: err,
		})
	}
}

func anyStepError(st *store.Status) bool {
	for _, s := range st.Steps {
		if s.State == store.StepError {
			return true
		}
	}
	return false
}

func anyFailed(outcomes []stepOutcome) bool {
	for _, o := range outcomes {
		if o.err != nil {
			return true
		}
	}
	return false
}

// stepState is the state an outcome leads to, for the step metric.
func stepState(o stepOutcome) string {
	switch {
	case o.err != nil:
		return store.StepError
	case o.obs.Skipped:
		return store.StepSkipped
	case len(o.obs.Drift) > 0 && !o.applied:
		return store.StepPending
	default:
		return store.StepOK
	}
}
