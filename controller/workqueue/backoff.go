package workqueue

import (
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Backoff shape. Multiplier 2 with ±25 % jitter makes every delay longer than the one before
// (the smallest next, 1.5×, beats the largest previous, 1.25×) until the cap, while still
// spreading the retries of many tenants that failed together.
const (
	backoffMultiplier   = 2
	backoffRandomFactor = 0.25
)

// keyBackoff is one failing key's backoff state.
type keyBackoff struct {
	b        *backoff.ExponentialBackOff
	requeues int
}

// AddRateLimited requeues k with flags f after its next backoff delay (exponential with
// jitter, capped at BackoffMax), or after min if that is longer (an upstream's Retry-After).
// It returns the delay chosen. The key's backoff grows until Forget.
func (q *Queue[K]) AddRateLimited(k K, min time.Duration, f Flags) time.Duration {
	q.mu.Lock()
	kb := q.backoffs[k]
	if kb == nil {
		kb = &keyBackoff{b: backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(q.opts.BackoffInitial),
			backoff.WithMaxInterval(q.opts.BackoffMax),
			backoff.WithMultiplier(backoffMultiplier),
			backoff.WithRandomizationFactor(backoffRandomFactor),
			backoff.WithMaxElapsedTime(0), // never give up: a controller retries until it is told otherwise
		)}
		q.backoffs[k] = kb
	}
	kb.requeues++
	d := kb.b.NextBackOff()
	// MaxInterval caps the interval before jitter; the cap promised is on the delay itself.
	if d > q.opts.BackoffMax {
		d = q.opts.BackoffMax
	}
	if d < min {
		d = min
	}
	q.mu.Unlock()
	if q.opts.OnRetry != nil {
		q.opts.OnRetry()
	}
	q.AddAfter(k, d, f)
	return d
}

// Forget resets k's backoff: the next failure starts again at BackoffInitial. Call it when k
// was processed successfully.
func (q *Queue[K]) Forget(k K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.backoffs, k)
}

// NumRequeues is how many times k was requeued with AddRateLimited since its last Forget.
func (q *Queue[K]) NumRequeues(k K) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if kb := q.backoffs[k]; kb != nil {
		return kb.requeues
	}
	return 0
}

// AddAfter queues k at High with flags f after d (at once when d <= 0). Of several pending
// delays for one key only the earliest time is kept (their flags merge): the key is processed
// then, and a later retry is the next failure's business.
func (q *Queue[K]) AddAfter(k K, d time.Duration, f Flags) {
	if q.ShuttingDown() {
		return
	}
	if d <= 0 {
		q.Add(k, High, f)
		return
	}
	q.delayed.add(k, time.Now().Add(d), f)
}
