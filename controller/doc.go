// Package controller drives every tenant's upstreams (Authentik, Stalwart, oCIS) toward the
// desired state the API wrote to MongoDB, Kubernetes-style (docs/ARCHITECTURE.md, "Controller rules").
//
// The five moves, as in kubernetes/sample-controller:
//
//	Run (run.go)                  campaign for the lease; while leader: sources + workers
//	  runWorker (worker.go)       one goroutine per CONTROLLER_WORKERS
//	    processNextItem           Get, defer Done, Forget on success, requeue with backoff on error
//	      reconcile (reconcile.go) one tenant: read tenant + status, then delete | pause | steps
//
// Keys come from three sources (sources.go): a change stream on `tenants` (watch.go) or, where
// the server has none (FerretDB, standalone mongod), a poll of metadata.updatedAt (poll.go);
// and a periodic resync (resync.go) at low priority, which lists each upstream once, compares
// every tenant with the listings a page at a time and queues only those with something to do.
// The queue (controller/workqueue) deduplicates keys, never hands one key to two workers,
// serves real changes before resync items and backs failing keys off exponentially.
//
// A reconcile observes every step independently with its own timeout and applies where the
// tenant's management policy allows (steps.go), answers a pending drift check from the same
// observations, summarises the results into phase, conditions and per-step states, and writes
// the status once, only if something other than timestamps changed (status.go, conditions.go,
// annotations.go); what Apply did becomes events (events.go). Only the holder of the lease
// (lease.go) runs sources and workers; its term fences every status write.
package controller
