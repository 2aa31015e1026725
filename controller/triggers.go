package controller

import "github.com/dezky/platform-api/controller/workqueue"

// trigger says why a tenant was queued; it travels with the key as workqueue flags (merged when
// one key is queued for several triggers). It decides how much a reconcile does: a change event
// for a tenant whose status is already current needs no upstream call (a raw update that
// re-sets the handled reconcile token must run nothing), while a resync must observe every
// step to find drift, and a retry must run them to retry.
type trigger workqueue.Flags

const (
	// triggerChange (no flag) is a change event from the watch or the poll: run the steps only
	// if the status is not current for the tenant as read.
	triggerChange trigger = 0
	// triggerResync: the periodic or requested resync; always observe every step (drift).
	triggerResync trigger = 1 << iota
	// triggerRetry: a backoff requeue after a failure; always run the steps.
	triggerRetry
)

// full reports whether the steps must run whatever the status says.
func (r trigger) full() bool { return r&(triggerResync|triggerRetry) != 0 }

// flags converts r for the queue.
func (r trigger) flags() workqueue.Flags { return workqueue.Flags(r) }

func (r trigger) String() string {
	switch {
	case r&triggerRetry != 0:
		return "retry"
	case r&triggerResync != 0:
		return "resync"
	default:
		return "change"
	}
}
