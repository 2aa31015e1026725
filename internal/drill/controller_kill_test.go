package drill_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/dezky/platform-api/integrations/sim/faults"
)

// TestDrillControllerKill9: two platform-api processes (both serve the API, one leads the
// controller) converge tenants created through the API in four batches; right after each of
// the first three batches, while its tenants are being reconciled, the leader is killed with
// SIGKILL (no lease release, no draining, upstream calls cut mid-flight) and a fresh process
// takes its place. Checks: nothing lost (every tenant created ends Active), nothing
// duplicated (exactly one object per tenant in each upstream, although creates were cut off
// between the upstream's write and the status write), no 5xx but 503. Figures: how long each
// takeover took.
func TestDrillControllerKill9(t *testing.T) {
	n := size(40, 300)
	const kills = 3
	env := size(map[string]string{"LEASE_DURATION": "3s", "LEASE_RENEW": "1s", "POLL_INTERVAL": "200ms"},
		map[string]string{})
	f := startFerret(t)
	u := startUpstreams(t)
	// A little upstream latency keeps a batch in flight long enough for the kill to land
	// mid-reconcile.
	for _, in := range []*faults.Injector{u.authentik.Faults(), u.stalwart.Faults(), u.ocis.Faults()} {
		in.Set(faults.Config{Latency: 10 * time.Millisecond})
	}
	penv := platformEnv(u, f.URI, env)

	var mu sync.Mutex
	var procs []*apiProc
	seq := 0
	spawn := func() {
		seq++
		p := startAPI(t, fmt.Sprintf("replica-%d", seq), penv)
		mu.Lock()
		procs = append(procs, p)
		mu.Unlock()
	}
	live := func() []*apiProc {
		mu.Lock()
		defer mu.Unlock()
		var out []*apiProc
		for _, p := range procs {
			if !p.exited() {
				out = append(out, p)
			}
		}
		return out
	}
	var rr int
	base := func() string {
		ps := live()
		mu.Lock()
		rr++
		i := rr
		mu.Unlock()
		if len(ps) == 0 {
			return "http://127.0.0.1:1" // nobody alive: the client's retry loop waits
		}
		return ps[i%len(ps)].URL
	}
	leader := func() *apiProc {
		for _, p := range live() {
			if code, role := p.ready(); code == http.StatusOK && role == "leader" {
				return p
			}
		}
		return nil
	}
	spawn()
	spawn()
	eventually(t, 60*time.Second, "a leader", func() bool { return leader() != nil })

	op := u.operatorToken(t)
	users := make([]user, 4)
	for i := range users {
		users[i] = u.newUser(t, fmt.Sprintf("k%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), size(5*time.Minute, 20*time.Minute))
	defer cancel()
	rec := &recorder{}
	created := &tenantSet{}
	createBatch := func(b int) []string {
		var slugs []string
		var wg sync.WaitGroup
		var errMu sync.Mutex
		var firstErr error
		per := n / (kills + 1)
		work := make(chan int)
		for w := 0; w < 4; w++ {
			wg.Go(func() {
				for i := range work {
					slug := fmt.Sprintf("k%d-%03d", b, i)
					uid, err := createTenant(ctx, rec, base, users[i%len(users)], slug)
					errMu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					if err == nil {
						slugs = append(slugs, slug)
					}
					errMu.Unlock()
					if err == nil {
						created.add(uid, slug)
					}
				}
			})
		}
		for i := 0; i < per; i++ {
			work <- i
		}
		close(work)
		wg.Wait()
		if firstErr != nil {
			t.Fatal(firstErr)
		}
		return slugs
	}

	// A trickle of creates all along, so some are in flight to the process being killed.
	trickle, stopTrickle := context.WithCancel(ctx)
	var trickleWG sync.WaitGroup
	var trickleErr error
	trickleUser := u.newUser(t, "k-trickle")
	trickleWG.Go(func() {
		for i := 0; trickle.Err() == nil; i++ {
			slug := fmt.Sprintf("k-t-%03d", i)
			uid, err := createTenant(trickle, rec, base, trickleUser, slug)
			if err != nil {
				if trickle.Err() == nil {
					trickleErr = err
				}
				return
			}
			created.add(uid, slug)
			sleepCtx(trickle, 250*time.Millisecond)
		}
	})

	var takeovers []time.Duration
	var activeAtKill []int
	for k := 0; k <= kills; k++ {
		batch := createBatch(k)
		if k == kills {
			break
		}
		// Wait until the leader is working on this batch (a first tenant of it Active), then
		// kill it at once.
		want := map[string]string{}
		for _, s := range batch {
			want[s] = s
		}
		var done int
		eventuallyEvery(t, 100*time.Millisecond, 2*time.Minute, "the leader working on batch "+fmt.Sprint(k), func() bool {
			_, done = allActive(ctx, base(), op, want)
			return done > 0
		})
		victim := leader()
		if victim == nil {
			t.Fatalf("no leader to kill")
		}
		killedAt := time.Now()
		victim.kill9()
		activeAtKill = append(activeAtKill, done)
		t.Logf("kill %d: %s killed with %d of %d tenants of its batch Active", k+1, victim.name, done, len(batch))
		spawn() // the replacement, as an orchestrator would start one
		var took time.Duration
		eventually(t, 2*time.Minute, "a new leader", func() bool {
			if leader() == nil {
				return false
			}
			took = time.Since(killedAt)
			return true
		})
		takeovers = append(takeovers, took)
	}

	stopTrickle()
	trickleWG.Wait()
	if trickleErr != nil {
		t.Fatal(trickleErr)
	}
	want := created.snapshot()
	if len(want) < (n/(kills+1))*(kills+1) {
		t.Fatalf("%d tenants created, want at least %d", len(want), (n/(kills+1))*(kills+1))
	}
	start := time.Now()
	eventuallyEvery(t, 250*time.Millisecond, size(3*time.Minute, 15*time.Minute), fmt.Sprintf("all %d tenants Active", len(want)), func() bool {
		ok, _ := allActive(ctx, base(), op, want)
		return ok
	})
	converged := time.Since(start)
	u.checkOneObjectEach(t, want)

	n5xx, noAnswer := 0, 0
	for _, r := range rec.results() {
		switch {
		case r.code >= 500 && r.code != http.StatusServiceUnavailable:
			n5xx++
			if n5xx <= 5 {
				t.Errorf("%s = %d %s", r.kind, r.code, r.body)
			}
		case r.code == 0:
			noAnswer++ // a request to the process being killed: the client retried elsewhere
		}
	}
	figures(t, "controller-kill9",
		"tenants", len(want), "kills", kills, "takeover_1", takeovers[0], "takeover_2", takeovers[1], "takeover_3", takeovers[2],
		"batch_active_at_kill", fmt.Sprint(activeAtKill), "all_active_after_last_batch", converged,
		"requests", len(rec.results()), "cut_off_by_kill", noAnswer, "5xx_other", n5xx)
}
