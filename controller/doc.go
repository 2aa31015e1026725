// Package controller drives every tenant's upstreams (Authentik, Stalwart, oCIS) toward the
// desired state the API wrote to MongoDB, Kubernetes-style (DESIGN §6).
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
// and a periodic resync of every tenant (resync.go) at low priority. The queue
// (controller/workqueue) deduplicates keys, never hands one key to two workers, serves real
// changes before resync items and backs failing keys off exponentially.
//
// A reconcile runs every step independently with its own timeout (ensure.go), summarises the
// results into phase, Ready condition and per-step states (summary.go), and writes the status
// once, only if something other than timestamps changed: a stable tenant costs two reads and
// its upstream reads, no write. Only the holder of the lease (lease.go) runs sources and
// workers; its term fences every status write.
package controller
