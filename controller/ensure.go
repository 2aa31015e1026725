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

// desired maps a tenant onto what the steps take (DESIGN §3: integrations never see a store
// document). externalID is the id this step recorded last time.
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

// ensureAll runs every step's Ensure concurrently, each with its own StepTimeout: one slow or
// failing upstream never blocks or rolls back another (DESIGN §6). Outcomes come back in step
// order. There is no retry in here: retries are requeues.
func (c *Controller) ensureAll(ctx context.Context, t *store.Tenant, prev *store.Status) []stepOutcome {
	out := make([]stepOutcome, len(c.steps))
	var wg sync.WaitGroup
	for i, s := range c.steps {
		d := desired(t, recordedID(prev, s.Name()))
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, c.o.StepTimeout)
			defer cancel()
			start := time.Now()
			obs, err := safeEnsure(sctx, s, d)
			out[i] = stepOutcome{name: s.Name(), obs: obs, err: err, took: time.Since(start)}
		})
	}
	wg.Wait()
	return out
}

// recordedID is steps.<name>.externalId of the stored status, "" when none.
func recordedID(prev *store.Status, step string) string {
	if prev == nil {
		return ""
	}
	return prev.Steps[step].ExternalID
}

// safeEnsure turns a panicking step into a retryable error: one bad integration must not take
// the controller (and every other tenant) down.
func safeEnsure(ctx context.Context, s integrations.Step, d integrations.Desired) (obs integrations.Observed, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("step %s panicked: %v", s.Name(), r)
		}
	}()
	return s.Ensure(ctx, d)
}

// safeDelete is safeEnsure for Delete; NotFound counts as success (already gone).
func safeDelete(ctx context.Context, s integrations.Step, d integrations.Desired) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("step %s panicked: %v", s.Name(), r)
		}
	}()
	if err := s.Delete(ctx, d); err != nil && !integrations.IsNotFound(err) {
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
