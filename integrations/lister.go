package integrations

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Lister is implemented by a step that can list every dezky-owned object of its upstream in a
// few paged requests, so a resync need not observe every tenant live: it takes one snapshot per
// step and observes live only the tenants whose snapshot shows something to do.
type Lister interface {
	// ObserveAll lists what the snapshot needs, reading only (as Observe).
	ObserveAll(ctx context.Context) (Snapshot, error)
}

// Snapshot answers Observe from one listing.
type Snapshot interface {
	// Observe answers exactly what a live Observe would for d (Observation.Object aside),
	// from the listing. ok is false when the listing cannot tell: the object is not in it
	// (missing, renamed away, created after the listing), or a fact the answer needs was not
	// listed (an owner's account); the caller then observes d live.
	Observe(d Desired) (o Observation, ok bool)
}

// ObserveAll implements Lister for an upstream that is not configured: every tenant is skipped.
func (s Skipped) ObserveAll(context.Context) (Snapshot, error) { return skippedSnapshot{s}, nil }

type skippedSnapshot struct{ s Skipped }

func (s skippedSnapshot) Observe(Desired) (Observation, bool) {
	return Observation{Skipped: true, Message: s.s.Reason}, true
}

// listingAttempts bounds the retries of one listing request.
const listingAttempts = 5

// RetryListing runs one listing request, retrying a retryable failure (a 429 or 5xx, a
// timeout) with backoff, never sooner than the upstream's Retry-After. A listing is one
// bounded batch of reads for the whole fleet, so, unlike a tenant's reconcile (whose retries
// are requeues), it retries in place: giving up would send every tenant to a live Observe.
func RetryListing[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	bo := backoff.NewExponentialBackOff(backoff.WithInitialInterval(200*time.Millisecond), backoff.WithMaxInterval(5*time.Second))
	var zero T
	for attempt := 1; ; attempt++ {
		v, err := fn()
		if err == nil || !IsRetryable(err) || attempt == listingAttempts {
			return v, err
		}
		wait := max(bo.NextBackOff(), RetryAfterOf(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return zero, ctx.Err()
		case <-t.C:
		}
	}
}
