// Package drill holds the operational drills: Go tests that run platform-api as a real
// process (the binary of cmd/platform-api) against FerretDB in a process of its own, the
// upstream simulators and the dev OIDC issuer, then break something the way production
// breaks — the database killed with SIGKILL and restarted on the same data, the leader
// killed with SIGKILL, a steady stream of mixed requests — and check that every tenant ends
// Active with exactly one object per tenant in each upstream, that no request got a 500, and
// report how long recovery took.
//
// The drills run in their CI size with `go test` (also with -short); `make soak`
// (DRILL_SOAK=1) runs them at full size: 300 tenants, production lease timings, 30 s of load.
// Each prints its figures with t.Logf and on one line starting with "DRILL " for scripts.
package drill
