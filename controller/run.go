package controller

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/controller/workqueue"
)

// Run blocks until ctx is done: it campaigns for the lease, runs the sources and workers while
// it leads, stops them when the lease is lost and campaigns again. On ctx done it stops the
// sources, lets in-flight reconciles finish, releases the lease and returns nil.
func (c *Controller) Run(ctx context.Context) error {
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.started = false
		c.mu.Unlock()
	}()
	c.log.Info("controller starting", "identity", c.o.Identity, "workers", c.o.Workers, "lease", c.o.LeaseName)
	for {
		term, acquiredAt, err := c.campaign(ctx)
		if err != nil {
			return nil // ctx done while standing by: a clean shutdown
		}
		c.lead(ctx, term, acquiredAt)
		if ctx.Err() != nil {
			c.log.Info("controller stopped")
			return nil
		}
	}
}

// campaign looks at the lease every LeaseRenew until it wins a term; it returns the term and
// the local time just before the winning insert (the conservative start of the term).
func (c *Controller) campaign(ctx context.Context) (term int64, acquiredAt time.Time, err error) {
	var lastErr string
	for {
		start := time.Now()
		t, ok, err := c.lease.tryAcquire(ctx)
		switch {
		case ctx.Err() != nil:
			return 0, time.Time{}, ctx.Err()
		case err != nil:
			c.setMongoOK(false)
			if err.Error() != lastErr { // one line per distinct failure, not one per tick
				c.log.Warn("cannot read the controller lease", "err", err)
				lastErr = err.Error()
			}
		case ok:
			c.setMongoOK(true)
			return t, start, nil
		default:
			c.setMongoOK(true)
			c.setRole(RoleStandby)
			lastErr = ""
		}
		if err := c.waitLook(ctx, err != nil); err != nil {
			return 0, time.Time{}, err
		}
	}
}

// waitLook waits LeaseRenew before the next look at the lease. After a failed look it also
// ends as soon as the store reports the database reachable again, so a replica that lost the
// database campaigns (and reports ready) within moments of its return, not up to LeaseRenew
// later.
func (c *Controller) waitLook(ctx context.Context, failed bool) error {
	wctx, cancel := context.WithTimeout(ctx, c.o.LeaseRenew)
	defer cancel()
	if failed && !c.st.Available() {
		_ = c.st.WaitAvailable(wctx)
	} else {
		<-wctx.Done()
	}
	return ctx.Err()
}

// session is one leadership term: its queue and the term that fences its writes.
type session struct {
	term int64
	q    *workqueue.Queue[bson.ObjectID]
	// lose ends the leadership early (lease lost, renewals late, status write fenced).
	lose context.CancelCauseFunc
	// stopping ends when the leadership is ending (shutdown requested or leadership lost):
	// workers waiting for the database give up then.
	stopping context.Context
}

// lead runs the controller for one term: sources, resync and workers, until ctx is done or the
// lease is lost. The order matters: the change source is opened (or the poll baseline taken)
// before the first full resync, so nothing written during the resync is missed.
func (c *Controller) lead(ctx context.Context, term int64, acquiredAt time.Time) {
	log := c.log.With("term", term)
	log.Info("became leader")
	c.setRole(RoleLeader)
	c.m.leader.Set(1)
	if c.onLeading != nil {
		c.onLeading(term, true)
	}

	// workCtx outlives ctx on purpose: after a shutdown request in-flight reconciles finish
	// (the lease is still renewed meanwhile); it ends early only when leadership is lost.
	workCtx, lose := context.WithCancelCause(context.WithoutCancel(ctx))
	srcCtx, stopSources := context.WithCancel(ctx)
	context.AfterFunc(workCtx, stopSources) // a lost lease stops the sources too
	renewCtx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		c.keepLease(renewCtx, term, acquiredAt, lose)
	}()
	// The cleanup of old terms runs beside the work; Run waits for it before returning, so
	// nothing of this leadership still uses the store once Run has returned.
	var cleanup sync.WaitGroup
	cleanup.Go(func() {
		cctx, cancel := context.WithTimeout(workCtx, c.o.LeaseRenew)
		defer cancel()
		if err := c.lease.cleanup(cctx, term); err != nil {
			log.Warn("lease cleanup failed", "err", err)
		}
	})

	s := &session{
		term: term,
		q: workqueue.New[bson.ObjectID](workqueue.Options{
			BackoffInitial: c.o.BackoffInitial,
			BackoffMax:     c.o.BackoffMax,
			OnRetry:        c.m.retries.Inc,
		}),
		lose:     lose,
		stopping: srcCtx,
	}
	c.queue.Store(s.q)

	var sources sync.WaitGroup
	c.startSources(srcCtx, s, &sources)
	var workers sync.WaitGroup
	for i := 0; i < c.o.Workers; i++ {
		workers.Go(func() { c.runWorker(workCtx, s) })
	}

	<-srcCtx.Done() // shutdown requested, or leadership lost
	sources.Wait()
	s.q.ShutDownWithDrain() // nothing new starts; in-flight reconciles finish
	workers.Wait()
	c.queue.Store(nil)
	c.m.leader.Set(0)
	if c.onLeading != nil {
		c.onLeading(term, false)
	}
	stopRenew()
	<-renewDone
	if cause := context.Cause(workCtx); cause != nil {
		log.Warn("leadership lost; workers stopped", "cause", cause)
	} else if !c.skipRelease.Load() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.LeaseRenew)
		if err := c.lease.release(rctx, term); err != nil {
			log.Warn("lease not released; a standby takes over when it expires", "err", err)
		}
		cancel()
		log.Info("leadership released")
	}
	lose(nil)
	cleanup.Wait()
	c.setRole(RoleStandby)
}

// keepLease renews the term every LeaseRenew until ctx ends. If renewals keep failing it
// calls lose LeaseRenew before the term could expire (by our clock, counted from the start of
// the last successful renewal), so the workers are stopped before anyone else may take over.
func (c *Controller) keepLease(ctx context.Context, term int64, validFrom time.Time, lose context.CancelCauseFunc) {
	safeFor := c.o.LeaseDuration - c.o.LeaseRenew
	c.validFrom.Store(validFrom.UnixNano())
	deadline := time.NewTimer(time.Until(validFrom.Add(safeFor)))
	defer deadline.Stop()
	tick := time.NewTimer(c.o.LeaseRenew)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			lose(errLeaseExpiring)
			return
		case <-tick.C:
		}
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, c.o.LeaseRenew)
		err := c.lease.renew(rctx, term)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errLeaseLost):
			c.setMongoOK(true)
			lose(err)
			return
		case err != nil:
			c.setMongoOK(false)
			c.log.Warn("lease renewal failed; retrying", "term", term, "err", err)
			tick.Reset(c.o.LeaseRenew / 4)
		default:
			c.setMongoOK(true)
			c.validFrom.Store(start.UnixNano())
			deadline.Reset(time.Until(start.Add(safeFor)))
			tick.Reset(c.o.LeaseRenew)
		}
	}
}
