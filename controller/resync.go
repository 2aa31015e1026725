package controller

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/controller/workqueue"
)

// runResync resyncs every tenant at start, then every ResyncInterval (±10 %), whenever the
// watcher lost history (now), and whenever an operator asked for it (POST /operator/resync
// stores a request time in controller_state; one findOne by _id per check).
func (c *Controller) runResync(ctx context.Context, s *session, now <-chan struct{}) {
	served, err := c.st.ResyncRequestedAt(ctx)
	if err != nil && ctx.Err() == nil {
		c.log.Warn("cannot read the resync request; the next check retries", "err", err)
	}
	c.resync(ctx, s, "start")
	timer := time.NewTimer(c.jitteredResync())
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
		c.resync(ctx, s, why)
		timer.Reset(c.jitteredResync())
	}
}

// jitteredResync is ResyncInterval ±10 %, so replicas started together spread their load.
func (c *Controller) jitteredResync() time.Duration {
	return time.Duration(float64(c.o.ResyncInterval) * (0.9 + 0.2*rand.Float64()))
}

// resync queues every tenant at Low priority, trigger resync, streaming ids through a cursor.
// AddWait blocks while the queue holds its limit of Low keys, so memory stays flat however
// many tenants there are: the cursor is the buffer.
func (c *Controller) resync(ctx context.Context, s *session, why string) {
	start := time.Now()
	n := 0
	err := c.st.StreamTenantIDs(ctx, func(id bson.ObjectID) error {
		n++
		return s.q.AddWait(ctx, id, triggerResync.flags())
	})
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, workqueue.ErrShutDown) {
			c.log.Warn("resync interrupted; the next one starts over", "why", why, "queued", n, "err", err)
		}
		return
	}
	c.m.resyncLast.SetToCurrentTime()
	c.log.Info("resync queued every tenant", "why", why, "tenants", n, "took", time.Since(start))
}
