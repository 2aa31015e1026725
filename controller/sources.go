package controller

import (
	"context"
	"errors"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/dezky/platform-api/controller/workqueue"
)

// Server error codes the sources branch on.
const (
	codeFailedToParse           = 9     // FerretDB: database/client Watch, "not implemented"
	codeCommandNotSupported     = 115   // servers that lack the aggregate stage altogether
	codeNotImplemented          = 238   // FerretDB: collection Watch
	codeChangeStreamFatal       = 280   // the stream cannot continue from this token
	codeChangeStreamHistoryLost = 286   // the token fell off the oplog
	codeNotAReplicaSet          = 40573 // standalone mongod: "$changeStream only supported on replica sets"
)

// noChangeStreams reports whether the server refused to open a change stream because it has
// none (standalone mongod, FerretDB): the controller then polls instead.
func noChangeStreams(err error) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	for _, code := range []int{codeNotAReplicaSet, codeNotImplemented, codeFailedToParse, codeCommandNotSupported} {
		if se.HasErrorCode(code) {
			return true
		}
	}
	return strings.Contains(strings.ToLower(err.Error()), "not implemented")
}

// historyLost reports whether the stream cannot resume from its token: the only way on is a
// new stream from now, and a full resync to cover the gap.
func historyLost(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && (se.HasErrorCode(codeChangeStreamHistoryLost) || se.HasErrorCode(codeChangeStreamFatal))
}

// transientCodes are the server errors of a node that is stepping down, shutting down or
// cannot reach the rest of the deployment: the change-streams specification's list of
// resumable errors. They say nothing about the request, which may succeed in a moment.
var transientCodes = []int{
	6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 13388, 234, 133,
}

// serverRefused reports an error the server answered because of the request (as opposed to a
// network failure, a timeout, or a node in transition, which the same request may get past
// later): retrying the same request would get the same answer. A resume token is dropped only
// on such an answer; dropping it on a step-down would cost a full resync for nothing.
func serverRefused(err error) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) || se.HasErrorLabel("NetworkError") || se.HasErrorLabel("ResumableChangeStreamError") ||
		mongo.IsTimeout(err) || mongo.IsNetworkError(err) {
		return false
	}
	for _, code := range transientCodes {
		if se.HasErrorCode(code) {
			return false
		}
	}
	return true
}

// source feeds changed tenant ids into the queue until ctx ends.
type source interface {
	run(ctx context.Context)
}

// startSources opens the change source (a change stream, or the poll fallback where the
// server has none) before it starts the resync loop, whose first act is a full resync: so
// every write is either before the resync's read of the tenant or seen by the source.
func (c *Controller) startSources(ctx context.Context, s *session, wg *sync.WaitGroup) {
	resyncNow := make(chan struct{}, 1)
	requestResync := func() {
		select {
		case resyncNow <- struct{}{}:
		default: // one is already pending: it will read every tenant anyway
		}
	}
	src := c.openSource(ctx, s, requestResync)
	wg.Go(func() { src.run(ctx) })
	wg.Go(func() { c.runResync(ctx, s, resyncNow) })
}

// openSource tries the change stream once. Refused for lack of change streams → the poll
// source, baseline taken. Any other failure → the watcher, which keeps reopening.
func (c *Controller) openSource(ctx context.Context, s *session, requestResync func()) source {
	w := &watcher{c: c, s: s, requestResync: requestResync}
	err := w.open(ctx)
	switch {
	case err == nil:
		c.setSource(SourceChangeStream, "change stream opened on tenants")
		return w
	case noChangeStreams(err):
		return c.startPolling(ctx, s, err)
	default:
		c.log.Warn("change stream not opened; retrying", "err", err)
		return w
	}
}

// startPolling switches to the poll fallback: baseline first (what exists now is the start
// resync's business), then every tick enqueues what changed.
func (c *Controller) startPolling(ctx context.Context, s *session, why error) *poller {
	p := newPoller(c, s)
	p.tick(ctx, false)
	c.setSource(SourcePoll, "server has no change streams: "+why.Error())
	return p
}

// enqueueChange queues a tenant a source saw change: High priority, trigger change.
func enqueueChange(s *session, id bson.ObjectID) {
	s.q.Add(id, workqueue.High, triggerChange.flags())
}
