package controller

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/controller/workqueue"
	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
)

// runResync resyncs every tenant at start, then every ResyncInterval (±10 %), whenever the
// watcher lost history (now), and whenever an operator asked for it (POST /operator/resync
// stores a request time in controller_state; one findOne by _id per check).
func (c *Controller) runResync(ctx context.Context, s *session, now <-chan struct{}) {
	served, err := c.st.ResyncRequestedAt(ctx)
	if err != nil && ctx.Err() == nil {
		c.log.Warn("cannot read the resync request; the next check retries", "err", err)
	}
	// next is when the following resync is due: the interval after a complete one, soon after
	// one the store interrupted (an outage at start-up must not leave the tenants not yet
	// compared waiting a whole interval).
	next := func(ok bool) time.Duration {
		if ok {
			return c.jitteredResync()
		}
		return min(resyncRetry, c.jitteredResync())
	}
	_, err = c.resync(ctx, s, "start")
	timer := time.NewTimer(next(err == nil))
	defer timer.Stop()
	check := time.NewTicker(c.o.requestCheckInterval())
	defer check.Stop()
	for {
		why := ""
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			why = "periodic"
		case <-now:
			why = "watch history lost"
		case <-check.C:
			at, err := c.st.ResyncRequestedAt(ctx)
			c.checks.Add(1)
			if err != nil || !at.After(served) {
				continue
			}
			served, why = at, "requested"
		}
		_, err := c.resync(ctx, s, why)
		timer.Reset(next(err == nil))
	}
}

// resyncRetry is how soon a resync the store interrupted is tried again.
const resyncRetry = 5 * time.Second

// jitteredResync is ResyncInterval ±10 %, so replicas started together spread their load.
func (c *Controller) jitteredResync() time.Duration {
	return time.Duration(float64(c.o.ResyncInterval) * (0.9 + 0.2*rand.Float64()))
}

// resync finds the tenants a resync must reconcile and queues them at Low priority, trigger
// resync. In list mode (the default) it takes one snapshot per step and enqueues only the
// tenants whose stored state or snapshot shows something to do; in per-tenant mode it queues
// every tenant for a live Observe (the stage-1 behaviour, kept for comparison). AddWait blocks
// while the queue holds its limit of Low keys, so memory stays flat however many tenants
// there are: the store's pages are the buffer.
// It returns how many tenants it queued, and an error when it was interrupted.
func (c *Controller) resync(ctx context.Context, s *session, why string) (queued int, err error) {
	if c.o.ResyncMode == ResyncPerTenant {
		return c.resyncEveryTenant(ctx, s, why)
	}
	return c.resyncByListing(ctx, s, why)
}

// resyncEveryTenant queues every tenant, streaming ids through a cursor.
func (c *Controller) resyncEveryTenant(ctx context.Context, s *session, why string) (int, error) {
	start := time.Now()
	n := 0
	err := c.st.StreamTenantIDs(ctx, func(id bson.ObjectID) error {
		n++
		return s.q.AddWait(ctx, id, triggerResync.flags())
	})
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, workqueue.ErrShutDown) {
			c.log.Warn("resync interrupted; the next one starts over soon", "why", why, "queued", n, "err", err)
		}
		return n, err
	}
	c.m.resyncLast.SetToCurrentTime()
	c.log.Info("resync queued every tenant", "why", why, "mode", ResyncPerTenant, "tenants", n, "took", time.Since(start))
	return n, nil
}

// resyncByListing takes one snapshot per step, reads every tenant with its status a page at a
// time, and queues only those that need a live Observe (needsReconcile). It also counts the
// tenants per phase for platform_tenants.
func (c *Controller) resyncByListing(ctx context.Context, s *session, why string) (int, error) {
	start := time.Now()
	snaps := c.takeSnapshots(ctx)
	phases := map[string]int{}
	total, queued := 0, 0
	err := c.st.TenantPages(ctx, store.DefaultPageSize, func(page []store.TenantAndStatus) error {
		for i := range page {
			t, prev := &page[i].Tenant, page[i].Status
			total++
			phases[phaseOf(t, prev)]++
			if !c.needsReconcile(t, prev, snaps) {
				continue
			}
			queued++
			if err := s.q.AddWait(ctx, t.ID, triggerResync.flags()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, workqueue.ErrShutDown) {
			c.log.Warn("resync interrupted; the next one starts over soon", "why", why, "queued", queued, "err", err)
		}
		return queued, err
	}
	for _, ph := range []string{store.PhasePending, store.PhaseActive, store.PhaseDegraded, store.PhaseSuspended, store.PhaseDeleting} {
		c.m.tenants.WithLabelValues(ph).Set(float64(phases[ph]))
	}
	c.m.resyncLast.SetToCurrentTime()
	c.log.Info("resync compared every tenant with the upstream listings", "why", why, "mode", ResyncList,
		"tenants", total, "queued", queued, "took", time.Since(start))
	return queued, nil
}

// takeSnapshots lists each step's upstream once. A step that cannot list (no Lister) or whose
// listing fails gets no snapshot: its tenants are observed live this time (logged, counted).
func (c *Controller) takeSnapshots(ctx context.Context) []integrations.Snapshot {
	snaps := make([]integrations.Snapshot, len(c.steps))
	var wg sync.WaitGroup
	for i, st := range c.steps {
		l, ok := st.(integrations.Lister)
		if !ok {
			continue
		}
		wg.Go(func() {
			lctx, cancel := context.WithTimeout(ctx, c.o.ListTimeout)
			defer cancel()
			start := time.Now()
			snap, err := safeCall(st.Name(), func() (integrations.Snapshot, error) { return l.ObserveAll(lctx) })
			if err != nil {
				if ctx.Err() == nil {
					c.m.snapshotFailures.WithLabelValues(st.Name()).Inc()
					c.log.Warn("upstream listing failed; its tenants are observed one by one this resync", "step", st.Name(), "err", err)
				}
				return
			}
			c.log.Debug("upstream listed", "step", st.Name(), "took", time.Since(start))
			snaps[i] = snap
		})
	}
	wg.Wait()
	return snaps
}

// needsReconcile decides from the stored state and the snapshots whether a tenant needs a live
// Observe (and Apply) this resync: a deletion or pause to act on, no status yet, a generation
// or token not handled, a drift check pending, a step in error, no snapshot for a step or no
// entry in it, another tenant's object, drift the Full policy would correct, or anything the
// observation would change in the status (the snapshot is recorded exactly as a live Observe
// would be, and compared).
func (c *Controller) needsReconcile(t *store.Tenant, prev *store.Status, snaps []integrations.Snapshot) bool {
	switch {
	case t.Metadata.DeletionRequestedAt != nil, prev == nil:
		return true
	case isPaused(t):
		return findCondition(prev.Conditions, condPaused) == nil
	case !c.upToDate(t, prev), driftCheckPending(t, prev):
		return true
	}
	outcomes := make([]stepOutcome, len(c.steps))
	for i, st := range c.steps {
		if snaps[i] == nil || prev.Steps[st.Name()].State == store.StepError {
			return true
		}
		obs, ok := snaps[i].Observe(desired(t, recordedID(prev, st.Name())))
		if !ok || obs.Owner == integrations.Foreign || (!obs.InSync() && t.Spec.Policy() == store.PolicyFull) {
			return true
		}
		outcomes[i] = stepOutcome{name: st.Name(), observed: true, obs: obs}
	}
	at := time.Time{}
	if prev.LastReconciledAt != nil {
		at = *prev.LastReconciledAt
	}
	next := c.baseStatus(t, prev, at)
	for _, o := range outcomes {
		applyOutcome(next, o, t.Metadata.Generation, at)
	}
	c.summarise(next, t, prev, at)
	return !sameStatus(prev, next)
}

// phaseOf is the phase a tenant shows (as the API shows it: Deleting once requested, Pending
// before the first status).
func phaseOf(t *store.Tenant, st *store.Status) string {
	switch {
	case t.Metadata.DeletionRequestedAt != nil:
		return store.PhaseDeleting
	case st == nil || st.Phase == "":
		return store.PhasePending
	}
	return st.Phase
}
