package controller

import "github.com/dezky/platform-api/controller/workqueue"

// reason says why a tenant was queued; it travels with the key as workqueue flags (merged when
// one key is queued for several reasons). It decides how much a reconcile does: a change event
// for a tenant whose status is already current needs no upstream call (a raw update that
// re-sets the handled reconcile token must run nothing), while a resync must call every step
// to find drift, and a retry must call them to retry.
type reason workqueue.Flags

const (
	// reasonChange (no flag) is a change event from the watch or the poll: run the steps only
	// if the status is not current for the tenant as read.
	reasonChange reason = 0
	// reasonResync: the periodic or requested resync; always run the steps (drift).
	reasonResync reason = 1 << iota
	// reasonRetry: a backoff requeue after a failure; always run the steps.
	reasonRetry
)

// full reports whether the steps must run whatever the status says.
func (r reason) full() bool { return r&(reasonResync|reasonRetry) != 0 }

// flags converts r for the queue.
func (r reason) flags() workqueue.Flags { return workqueue.Flags(r) }

func (r reason) String() string {
	switch {
	case r&reasonRetry != 0:
		return "retry"
	case r&reasonResync != 0:
		return "resync"
	default:
		return "change"
	}
}
