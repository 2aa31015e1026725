package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/plan"
	"github.com/dezky/platform-api/store"
)

// stepOutcome is one step's result in one reconcile: what Observe found and, when Apply ran,
// what it did.
type stepOutcome struct {
	name string
	// observed is true when Observe succeeded; obs is what it found.
	observed bool
	obs      integrations.Observation
	// applied is true when Apply ran (it may have failed); res is what it reported.
	applied bool
	res     integrations.Observed
	// err is the step's failure: Observe's, the refusal of another tenant's object, Apply's,
	// or Delete's.
	err  error
	took time.Duration
}

// desired maps a tenant onto what the steps take (integrations never see a store document).
// externalID is the id this step recorded last time.
func desired(t *store.Tenant, externalID string) integrations.Desired {
	var mailDomain string
	var mailOverride, storageOverride int64
	if m := t.Spec.Mail; m != nil {
		mailDomain, mailOverride = m.Domain, m.QuotaBytes
	}
	if s := t.Spec.Storage; s != nil {
		storageOverride = s.QuotaBytes
	}
	q := plan.Effective(t.Spec.Plan, storageOverride, mailOverride)
	return integrations.Desired{
		TenantID:          t.ID.Hex(),
		Slug:              t.Metadata.Slug,
		Name:              t.Spec.Name,
		Plan:              t.Spec.Plan,
		OwnerSub:          t.Spec.Owner.Sub,
		OwnerEmail:        t.Spec.Owner.Email,
		Suspended:         t.Spec.Suspended,
		MailDomain:        mailDomain,
		MailQuotaBytes:    q.MailBytes,
		StorageQuotaBytes: q.StorageBytes,
		ExternalID:        externalID,
	}
}

// runSteps runs every step concurrently, each within its own StepTimeout: one slow or failing
// upstream never blocks or rolls back another. Each step is observed; with apply (the Full
// policy, on a reconcile that may act) a step whose object is missing or drifted is applied.
// Outcomes come back in step order. There is no retry in here: retries are requeues.
func (c *Controller) runSteps(ctx context.Context, t *store.Tenant, prev *store.Status, apply bool) []stepOutcome {
	out := make([]stepOutcome, len(c.steps))
	var wg sync.WaitGroup
	for i, s := range c.steps {
		d := desired(t, recordedID(prev, s.Name()))
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, c.o.StepTimeout)
			defer cancel()
			start := time.Now()
			out[i] = runStep(sctx, s, d, apply)
			out[i].took = time.Since(start)
		})
	}
	wg.Wait()
	return out
}

// runStep is one step's Observe, then Apply when allowed and there is something to do. Another
// tenant's object is refused here, whatever the policy: nothing may be done with it, and an
// operator must look.
func runStep(ctx context.Context, s integrations.Step, d integrations.Desired, apply bool) stepOutcome {
	o := stepOutcome{name: s.Name()}
	obs, err := safeCall(s.Name(), func() (integrations.Observation, error) { return s.Observe(ctx, d) })
	if err != nil {
		o.err = err
		return o
	}
	o.observed, o.obs = true, obs
	switch {
	case obs.Skipped:
		return o
	case obs.Owner == integrations.Foreign:
		o.err = &integrations.Error{Kind: integrations.Permanent, Op: "observe " + s.Name(),
			Message: fmt.Sprintf("%s (upstream object %s)", obs.Message, obs.ExternalID), Public: obs.Message}
		return o
	case !apply || obs.InSync():
		return o
	}
	o.applied = true
	o.res, o.err = safeCall(s.Name(), func() (integrations.Observed, error) { return s.Apply(ctx, d, obs) })
	return o
}

// recordedID is steps.<name>.externalId of the stored status, "" when none.
func recordedID(prev *store.Status, step string) string {
	if prev == nil {
		return ""
	}
	return prev.Steps[step].ExternalID
}

// safeCall turns a panicking step into a retryable error: one bad integration must not take
// the controller (and every other tenant) down.
func safeCall[T any](step string, f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("step %s panicked: %v", step, r)
		}
	}()
	return f()
}

// safeDelete runs a step's Delete through safeCall; NotFound counts as success (already gone).
func safeDelete(ctx context.Context, s integrations.Step, d integrations.Desired) error {
	_, err := safeCall(s.Name(), func() (struct{}, error) { return struct{}{}, s.Delete(ctx, d) })
	if err != nil && !integrations.IsNotFound(err) {
		return err
	}
	return nil
}

// retryPolicy turns step failures into the worker's decision: any retryable failure requeues
// with backoff, at least as late as the longest Retry-After; permanent failures alone do not
// requeue (no hot loop: they wait for a spec change, a resync or a forced reconcile).
func retryPolicy(outcomes []stepOutcome) result {
	var res result
	for _, o := range outcomes {
		if o.err == nil || integrations.IsPermanent(o.err) {
			continue
		}
		res.requeue = true
		res.minDelay = max(res.minDelay, integrations.RetryAfterOf(o.err))
	}
	return res
}
