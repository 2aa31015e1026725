package workqueue

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Priority orders queued keys: every High key is served before any Low key.
type Priority int

// Priorities.
const (
	// Low is for resync items: every tenant, periodically.
	Low Priority = iota
	// High is for real changes (watch, poll, API) and retries.
	High
)

// Flags are a caller's bits carried with a queued key (the controller says why a tenant was
// queued with them). Adds of one key OR their flags together; Get hands them to the worker and
// clears them. Flags of a delayed add travel with it, so they reach the run the delay was for.
type Flags uint8

// ErrShutDown is returned by AddWait once the queue is shutting down.
var ErrShutDown = errors.New("workqueue: shutting down")

// Options configures New. The zero value of each field means its documented default.
type Options struct {
	// BackoffInitial is the first retry delay of a failing key. Defaults to 1s: long enough
	// that a flapping upstream is not hammered, short enough that a blip heals quickly.
	BackoffInitial time.Duration
	// BackoffMax caps a key's retry delay. Defaults to 5m: a broken upstream is still retried
	// a dozen times an hour, and Retry-After can ask for more.
	BackoffMax time.Duration
	// LowLimit is how many Low keys may wait before AddWait blocks. Defaults to 1000, one
	// database cursor batch: resync memory stays flat however many tenants there are.
	LowLimit int
	// OnRetry, when set, is called once per AddRateLimited (the retries metric).
	OnRetry func()
}

// Queue is a deduplicating two-priority work queue with per-key backoff. Safe for concurrent
// use. The zero value is not usable: call New.
type Queue[K comparable] struct {
	opts Options

	mu   sync.Mutex
	cond *sync.Cond // signalled when a key becomes available or processing ends

	// lists holds the waiting keys per priority, FIFO. A key promoted from Low to High leaves a
	// stale entry in the Low list, skipped when popped (queued says where the key really is).
	lists [2][]K
	// queued says which list a waiting key is in.
	queued map[K]Priority
	// flags holds the merged flags of waiting keys.
	flags map[K]Flags
	// nLow counts the keys waiting at Low (the stale entries excluded), for back-pressure.
	nLow int
	// lowSpace is closed (and replaced) when nLow drops while an AddWait waits.
	lowSpace   chan struct{}
	lowWaiting bool

	// processing holds the keys handed out by Get and not yet Done.
	processing map[K]struct{}
	// again holds keys added while processing, with the priority and flags to queue them with
	// on Done.
	again map[K]pending

	shuttingDown bool

	backoffs map[K]*keyBackoff
	delayed  *delayer[K]
}

type pending struct {
	p Priority
	f Flags
}

// New returns a running queue; stop it with ShutDown or ShutDownWithDrain.
func New[K comparable](o Options) *Queue[K] {
	if o.BackoffInitial <= 0 {
		o.BackoffInitial = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Minute
	}
	if o.BackoffMax < o.BackoffInitial {
		o.BackoffMax = o.BackoffInitial
	}
	if o.LowLimit <= 0 {
		o.LowLimit = 1000
	}
	q := &Queue[K]{
		opts:       o,
		queued:     map[K]Priority{},
		flags:      map[K]Flags{},
		processing: map[K]struct{}{},
		again:      map[K]pending{},
		lowSpace:   make(chan struct{}),
		backoffs:   map[K]*keyBackoff{},
	}
	q.cond = sync.NewCond(&q.mu)
	q.delayed = newDelayer(func(k K, f Flags) { q.Add(k, High, f) })
	return q
}

// Add queues k at priority p with flags f, unless it is already waiting at p or higher (a Low
// key is promoted to High); flags merge either way. A key being processed is queued again when
// its worker calls Done.
func (q *Queue[K]) Add(k K, p Priority, f Flags) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shuttingDown {
		return
	}
	q.add(k, p, f)
}

// add is Add with q.mu held.
func (q *Queue[K]) add(k K, p Priority, f Flags) {
	if _, busy := q.processing[k]; busy {
		cur := q.again[k]
		cur.p = max(cur.p, p)
		cur.f |= f
		q.again[k] = cur
		return
	}
	q.flags[k] |= f
	if cur, ok := q.queued[k]; ok {
		if p <= cur {
			return
		}
		// Promotion: the Low entry stays in its list as a stale entry (see lists).
		q.lowDone()
	}
	q.queued[k] = p
	if p == Low {
		q.nLow++
	}
	q.lists[p] = append(q.lists[p], k)
	q.cond.Signal()
}

// AddWait queues k at Low with flags f, first waiting while LowLimit Low keys are already waiting: the
// resync's back-pressure. A key already queued or being processed is merged without waiting.
func (q *Queue[K]) AddWait(ctx context.Context, k K, f Flags) error {
	for {
		q.mu.Lock()
		if q.shuttingDown {
			q.mu.Unlock()
			return ErrShutDown
		}
		_, waiting := q.queued[k]
		_, busy := q.processing[k]
		if q.nLow < q.opts.LowLimit || waiting || busy {
			q.add(k, Low, f)
			q.mu.Unlock()
			return nil
		}
		q.lowWaiting = true
		space := q.lowSpace
		q.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// lowDone records that one Low key left the Low list; with q.mu held.
func (q *Queue[K]) lowDone() {
	q.nLow--
	if q.lowWaiting {
		close(q.lowSpace)
		q.lowSpace = make(chan struct{})
		q.lowWaiting = false
	}
}

// Get blocks until a key is available and hands it out with its merged flags; the caller must
// call Done(k) when finished. shutdown is true once the queue is shutting down: the worker
// should return. Keys still waiting then are dropped (the next leader's start-up resync covers
// them).
func (q *Queue[K]) Get() (k K, f Flags, shutdown bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.shuttingDown {
			var zero K
			return zero, 0, true
		}
		if k, ok := q.pop(); ok {
			q.processing[k] = struct{}{}
			f := q.flags[k]
			delete(q.flags, k)
			return k, f, false
		}
		q.cond.Wait()
	}
}

// pop takes the first live key, High before Low; with q.mu held.
func (q *Queue[K]) pop() (K, bool) {
	for _, p := range [...]Priority{High, Low} {
		for len(q.lists[p]) > 0 {
			k := q.lists[p][0]
			var zero K
			q.lists[p][0] = zero // let the backing array drop the key
			q.lists[p] = q.lists[p][1:]
			if cur, ok := q.queued[k]; !ok || cur != p {
				continue // stale entry of a promoted key
			}
			delete(q.queued, k)
			if p == Low {
				q.lowDone()
			}
			return k, true
		}
		q.lists[p] = nil // empty: release the backing array
	}
	var zero K
	return zero, false
}

// Done marks k as finished; if it was added while being processed it is queued again now.
func (q *Queue[K]) Done(k K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, k)
	if a, ok := q.again[k]; ok {
		delete(q.again, k)
		if !q.shuttingDown {
			q.add(k, a.p, a.f)
		}
	}
	q.cond.Broadcast() // wakes ShutDownWithDrain too
}

// Len is the number of keys waiting (both priorities; delayed keys not included).
func (q *Queue[K]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queued)
}

// LenLow is the number of keys waiting at Low.
func (q *Queue[K]) LenLow() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.nLow
}

// ShutDown stops handing out keys: Get returns shutdown, Add and AddAfter are ignored,
// AddWait fails. Keys being processed may still call Done.
func (q *Queue[K]) ShutDown() {
	q.mu.Lock()
	if !q.shuttingDown {
		q.shuttingDown = true
		close(q.lowSpace)
		q.lowSpace = make(chan struct{})
	}
	q.cond.Broadcast()
	q.mu.Unlock()
	q.delayed.stop()
}

// ShutDownWithDrain is ShutDown, then waits until every key handed out has been Done: in-flight
// work finishes, nothing new starts.
func (q *Queue[K]) ShutDownWithDrain() {
	q.ShutDown()
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.processing) > 0 {
		q.cond.Wait()
	}
}

// ShuttingDown reports whether ShutDown was called.
func (q *Queue[K]) ShuttingDown() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.shuttingDown
}
