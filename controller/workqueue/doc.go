// Package workqueue is the controller's work queue: keys (tenant ids) wait in one of two FIFO
// lists, High for real changes and retries and Low for resync, and are handed to workers with
// the guarantees a reconciler needs:
//
//   - deduplication: a key queued twice is processed once;
//   - exclusivity: a key is never processed by two workers at once; a key added while it is
//     being processed is processed once more after Done;
//   - priority: every High key is served before any Low key, so a periodic resync of every
//     tenant never delays a user's new tenant;
//   - per-key exponential backoff with jitter (cenkalti/backoff/v4), reset by Forget, and
//     delayed adds (AddAfter) for a server's Retry-After;
//   - back-pressure for resync (AddWait), so a resync of 100,000 tenants holds a bounded number
//     of keys in memory and the database cursor is the buffer;
//   - a shutdown that lets in-flight items finish (ShutDownWithDrain).
//
// It is client-go's workqueue reduced to what this controller uses, plus the second priority
// and per-key flags (why a key was queued), which travel with delayed adds.
package workqueue
