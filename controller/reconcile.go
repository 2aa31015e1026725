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
	why  reason
	term int64
}

// result is the reconciler's verdict, turned into queue calls in one place (processNextItem):
// done (Forget), requeue with backoff no sooner than minDelay, or hold (leave the backoff as it
// is: nothing was retried).
type result struct {
	requeue     bool
	minDelay    time.Duration
	holdBackoff bool
}

// record is what one reconcile reports to logs, metrics and Options.OnReconcile.
type record struct {
	slug     string
	gen      int64
	outcome  string // ReconcileInfo.Result
	stepsRun bool
	wrote    bool
	steps    []stepOutcome
}

// reconcile brings one tenant one step closer to its desired state. It reads the tenant and
// its status, then takes exactly one of four paths:
//
//   - tenant gone: nothing to do (its status went with it);
//   - paused: record the Paused condition and touch nothing upstream, not even to delete: an
//     operator who paused a tenant is working on its upstreams by hand (DESIGN §6 order);
//   - deletion requested: tear the steps down in reverse order, then delete both documents;
//   - otherwise: unless this is a change event for a tenant whose status is already current,
//     run every step, summarise, write the status if it changed, record events.
func (c *Controller) reconcile(ctx context.Context, req request) (res result, err error) {
	start := time.Now()
	rec := &record{}
	defer func() { c.observe(req, rec, start, res, err) }()

	t, err := c.st.GetTenantByID(ctx, req.id)
	if errors.Is(err, store.ErrNotFound) {
		rec.outcome = "gone"
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
	case !req.why.full() && c.upToDate(t, prev):
		// A change event that changed nothing the controller acts on (a label, the handled
		// token set again, a hand-touched updatedAt): no upstream call, no write.
		rec.outcome = "up to date"
		return result{holdBackoff: anyStepError(prev)}, nil
	}
	return c.reconcileSteps(ctx, req, t, prev, rec)
}

// reconcileSteps runs every step, then summarises and writes once.
func (c *Controller) reconcileSteps(ctx context.Context, req request, t *store.Tenant, prev *store.Status, rec *record) (result, error) {
	outcomes := c.ensureAll(ctx, t, prev)
	rec.stepsRun, rec.steps = true, outcomes
	if ctx.Err() != nil {
		// Leadership ended while the steps ran: their errors are ours, not the upstreams'.
		return result{}, ctx.Err()
	}
	now := c.st.Now()
	next := c.baseStatus(t, prev, now)
	for _, o := range outcomes {
		applyOutcome(next, o, t.Metadata.Generation, now)
	}
	c.summarise(next, t, prev, now)
	wrote, err := c.writeStatus(ctx, req, prev, next, now)
	rec.wrote = wrote
	if err != nil {
		return result{}, err
	}
	if err := c.recordEvents(ctx, t, prev, next, outcomes, now); err != nil {
		// Events are for `describe`; losing one must not fail the reconcile.
		c.log.Warn("reconcile events not recorded", "tenant", t.Metadata.Slug, "err", err)
	}
	rec.outcome = "reconciled"
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
	rec.wrote, rec.outcome = wrote, "paused"
	return result{}, err
}

// writeStatus writes next when it differs from prev in more than timestamps (sameStatus),
// stamping lastReconciledAt and our term. It reports whether it wrote.
func (c *Controller) writeStatus(ctx context.Context, req request, prev, next *store.Status, now time.Time) (bool, error) {
	if sameStatus(prev, next) {
		return false, nil
	}
	next.LastReconciledAt = &now
	next.LeaderTerm = req.term
	if err := c.st.PutStatus(ctx, next); err != nil {
		return false, fmt.Errorf("write status of %s: %w", next.Slug, err)
	}
	return true, nil
}

// observe logs one reconcile, counts it and calls Options.OnReconcile.
func (c *Controller) observe(req request, rec *record, start time.Time, res result, err error) {
	took := time.Since(start)
	outcome := resultSuccess
	switch {
	case err != nil:
		outcome = resultError
		rec.outcome = "error"
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
			slog.String("why", req.why.String()), slog.String("result", rec.outcome),
			slog.Bool("statusWritten", rec.wrote), slog.Duration("duration", took),
		}
		for _, o := range rec.steps {
			step := []any{slog.String("state", stepState(o)), slog.Duration("duration", o.took)}
			if o.err != nil {
				step = append(step, slog.String("error", o.err.Error()))
			} else if o.obs.Action != "" {
				step = append(step, slog.String("action", string(o.obs.Action)))
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
	default:
		return store.StepOK
	}
}
