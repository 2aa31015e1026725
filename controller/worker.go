package controller

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/controller/workqueue"
	"github.com/dezky/platform-api/store"
)

// runWorker processes queued tenants until the queue shuts down.
func (c *Controller) runWorker(ctx context.Context, s *session) {
	for c.processNextItem(ctx, s) {
	}
}

// processNextItem is sample-controller's loop body: Get, defer Done, reconcile, then Forget on
// success or requeue with backoff on failure. It returns false when the queue shuts down.
func (c *Controller) processNextItem(ctx context.Context, s *session) bool {
	id, flags, shutdown := s.q.Get()
	if shutdown {
		return false
	}
	defer s.q.Done(id)

	res, err := c.reconcile(ctx, request{id: id, why: trigger(flags), term: s.term})
	switch {
	case ctx.Err() != nil:
		// Leadership ended mid-reconcile: nothing is requeued; the next leader's start-up
		// resync reconciles every tenant anyway.
	case errors.Is(err, store.ErrFenced):
		// A newer term wrote this tenant's status: we are no longer the leader, whatever our
		// lease document says. Stop everything now.
		s.lose(err)
	case store.IsUnavailable(err) && !c.st.Available():
		c.retryWhenAvailable(s, id)
	case err != nil:
		s.q.AddRateLimited(id, 0, triggerRetry.flags())
	case res.requeue:
		s.q.AddRateLimited(id, res.minDelay, triggerRetry.flags())
	case res.holdBackoff:
		// Nothing was retried (a change event found the status current, a step still
		// failing): the retry already scheduled keeps its place in the backoff sequence.
	default:
		s.q.Forget(id)
	}
	return true
}

// retryWhenAvailable handles a reconcile that failed because the database is unreachable:
// the database failed, not the tenant, so no backoff step is spent on it (after an outage of
// a minute every tenant would otherwise wait out a backoff of a minute or more). The worker
// waits until the store reaches the database again, then queues the tenant at once. While the
// database is down every worker ends up waiting here, which is what they should do: nothing
// else could succeed meanwhile, and the queue keeps the rest. The wait ends early when the
// leadership ends; the next leader's start-up resync covers the tenant then.
func (c *Controller) retryWhenAvailable(s *session, id bson.ObjectID) {
	if err := c.st.WaitAvailable(s.stopping); err != nil {
		return
	}
	s.q.Add(id, workqueue.High, triggerRetry.flags())
}
