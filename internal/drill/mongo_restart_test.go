package drill_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDrillMongoRestart: while tenants converge through platform-api, the database process is
// killed with SIGKILL, kept down, and started again on the same data directory and port.
// Meanwhile clients keep creating tenants and reading. Checks: no request ever gets a 500
// (store outages are 503 problems with Retry-After), /ready goes 503 and back to 200, the
// controller resumes by itself, every tenant ends Active with exactly one object per tenant
// in each upstream. Figures: time to ready and to all Active after the restart, the first
// reconcile of a tenant created right after it, the number of 503s and how fast they came.
func TestDrillMongoRestart(t *testing.T) {
	n := size(40, 300)
	down := size(4*time.Second, 12*time.Second)
	if d, err := time.ParseDuration(os.Getenv("DRILL_MONGO_DOWN")); err == nil {
		down = d // to drill other outage lengths by hand
	}
	// The CI form uses short lease timings so that its short outage still outlasts the
	// leader's safe window (it steps down and must take a new term when the database is
	// back); the soak form runs production defaults, where 12s down does the same.
	env := size(map[string]string{"LEASE_DURATION": "3s", "LEASE_RENEW": "1s", "POLL_INTERVAL": "200ms"},
		map[string]string{})
	f := startFerret(t)
	u := startUpstreams(t)
	api := startAPI(t, "platform-api", platformEnv(u, f.URI, env))
	eventually(t, 60*time.Second, "a ready leader", func() bool { c, role := api.ready(); return c == 200 && role == "leader" })
	op := u.operatorToken(t)
	users := make([]user, 5)
	for i := range users {
		users[i] = u.newUser(t, fmt.Sprintf("mr%d", i))
	}
	base := func() string { return api.URL }

	ctx, cancel := context.WithTimeout(context.Background(), size(5*time.Minute, 15*time.Minute))
	defer cancel()
	rec := &recorder{}
	created := &tenantSet{}

	// Readers and /ready probes for the whole drill.
	var readyLog struct {
		sync.Mutex
		firstDown, firstUp, leaderAgain time.Time
	}
	var downAt, upAt atomic.Int64 // unix ns of the kill and of the restart
	bg, stopBG := context.WithCancel(ctx)
	var bgWG sync.WaitGroup
	bgWG.Go(func() {
		for bg.Err() == nil {
			code, role := api.ready()
			now := time.Now()
			readyLog.Lock()
			if d := downAt.Load(); d != 0 && code == http.StatusServiceUnavailable && readyLog.firstDown.IsZero() {
				readyLog.firstDown = now
			}
			if up := upAt.Load(); up != 0 && code == http.StatusOK && readyLog.firstUp.IsZero() {
				readyLog.firstUp = now
			}
			if up := upAt.Load(); up != 0 && code == http.StatusOK && role == "leader" && readyLog.leaderAgain.IsZero() {
				readyLog.leaderAgain = now
			}
			readyLog.Unlock()
			sleepCtx(bg, 50*time.Millisecond)
		}
	})
	bgWG.Go(func() {
		for i := 0; bg.Err() == nil; i++ {
			j := i % n
			us := users[j%len(users)] // the owner of mr-<j>
			switch i % 3 {
			case 0:
				call(bg, rec, "GET /me", http.MethodGet, base()+"/me", us.token, nil)
			case 1:
				call(bg, rec, "GET /tenants", http.MethodGet, base()+"/tenants", us.token, nil)
			default:
				call(bg, rec, "GET /tenants/:slug", http.MethodGet, base()+fmt.Sprintf("/tenants/mr-%03d", j), us.token, nil)
			}
			sleepCtx(bg, 100*time.Millisecond)
		}
	})

	// Creators: n tenants from 4 clients, as fast as the API takes them; then the database
	// dies once a third of them are Active, so the rest are mid-convergence. A trickle client
	// keeps creating one tenant after another all along, so creates are in flight when the
	// database dies and while it is down.
	var next atomic.Int64
	var createErr atomic.Value
	var creators sync.WaitGroup
	for w := 0; w < 4; w++ {
		creators.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				slug := fmt.Sprintf("mr-%03d", i)
				uid, err := createTenant(ctx, rec, base, users[i%len(users)], slug)
				if err != nil {
					createErr.Store(err)
					return
				}
				created.add(uid, slug)
			}
		})
	}
	trickleUser := u.newUser(t, "mr-trickle")
	trickle, stopTrickle := context.WithCancel(ctx)
	var trickled atomic.Int64
	creators.Go(func() {
		for i := 0; trickle.Err() == nil; i++ {
			slug := fmt.Sprintf("mr-t-%03d", i)
			uid, err := createTenant(ctx, rec, base, trickleUser, slug)
			if err != nil {
				createErr.Store(err)
				return
			}
			created.add(uid, slug)
			trickled.Add(1)
			sleepCtx(trickle, 250*time.Millisecond)
		}
	})
	firstCreate := time.Now()
	activeAtKill := 0
	eventuallyEvery(t, 250*time.Millisecond, 3*time.Minute, "a third of the tenants Active", func() bool {
		_, activeAtKill = allActive(ctx, base(), op, created.snapshot())
		return activeAtKill >= n/3
	})

	killed := time.Now()
	downAt.Store(killed.UnixNano())
	f.kill9()
	t.Logf("database killed with %d tenants created, %d Active", len(created.snapshot()), activeAtKill)
	time.Sleep(down) // the outage itself: the thing being drilled, not synchronisation
	restarted := time.Now()
	f.restart()
	upAt.Store(restarted.UnixNano())

	// Tenants created right after the database returned: how long until their first
	// reconcile (they go Active on it against healthy simulators).
	eventually(t, time.Minute, "ready again", func() bool {
		readyLog.Lock()
		defer readyLog.Unlock()
		return !readyLog.firstUp.IsZero()
	})
	afterUser := u.newUser(t, "mr-after")
	var afterSlugs []string
	afterCreated := map[string]time.Time{}
	for i := 0; i < 5; i++ {
		slug := fmt.Sprintf("mr-after-%d", i)
		uid, err := createTenant(ctx, rec, base, afterUser, slug)
		if err != nil {
			t.Fatal(err)
		}
		created.add(uid, slug)
		afterSlugs = append(afterSlugs, slug)
		afterCreated[slug] = time.Now()
	}
	var afterMax time.Duration
	afterActive := map[string]bool{}
	eventuallyEvery(t, 250*time.Millisecond, 2*time.Minute, "the tenants created after the restart Active", func() bool {
		ph, err := phases(ctx, base(), op)
		if err != nil {
			return false
		}
		for _, s := range afterSlugs {
			if ph[s] == "Active" && !afterActive[s] {
				afterActive[s] = true
				afterMax = max(afterMax, time.Since(afterCreated[s]))
			}
		}
		return len(afterActive) == len(afterSlugs)
	})

	stopTrickle()
	creators.Wait()
	if err, _ := createErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	want := created.snapshot()
	if wantN := n + len(afterSlugs) + int(trickled.Load()); len(want) != wantN {
		t.Fatalf("%d tenants created, want %d", len(want), wantN)
	}
	var activeAt time.Time
	eventuallyEvery(t, 250*time.Millisecond, size(3*time.Minute, 10*time.Minute), fmt.Sprintf("all %d tenants Active", len(want)), func() bool {
		ok, _ := allActive(ctx, base(), op, want)
		if ok {
			activeAt = time.Now()
		}
		return ok
	})
	stopBG()
	bgWG.Wait()

	u.checkOneObjectEach(t, want)
	if c, role := api.ready(); c != http.StatusOK || role != "leader" {
		t.Errorf("/ready = %d controller %q at the end, want 200 leader", c, role)
	}

	// Every answer is a success, a 503 problem with Retry-After, or an expected client-side
	// status; never a 500 or another 5xx.
	var n503, n503bad, n5xx int
	var lat503 []time.Duration
	for _, r := range rec.results() {
		switch {
		case r.code == http.StatusServiceUnavailable:
			n503++
			lat503 = append(lat503, r.took)
			if !r.retryOK {
				n503bad++
			}
		case r.code >= 500:
			n5xx++
			if n5xx <= 5 {
				t.Errorf("%s = %d %s", r.kind, r.code, r.body)
			}
		case r.code == 0:
			t.Errorf("%s: no answer: %v", r.kind, r.err)
		}
	}
	if n5xx > 0 {
		t.Errorf("%d responses with a 5xx other than 503", n5xx)
	}
	if n503bad > 0 {
		t.Errorf("%d 503s without Retry-After or a problem body", n503bad)
	}
	if n503 == 0 {
		t.Errorf("no request saw the outage (no 503 at all): the drill did not drill")
	}
	readyLog.Lock()
	firstDown, firstUp, leaderAgain := readyLog.firstDown, readyLog.firstUp, readyLog.leaderAgain
	readyLog.Unlock()
	// Convergence is bound by the database's write rate (FerretDB/SQLite scans on every update
	// here); the rates before the kill and after the restart show what part of the time to
	// all Active is recovery and what part is simply work.
	rateBefore := float64(activeAtKill) / killed.Sub(firstCreate).Seconds()
	rateAfter := float64(len(want)-activeAtKill) / activeAt.Sub(restarted).Seconds()
	if firstDown.IsZero() {
		t.Errorf("/ready never answered 503 while the database was down")
	}
	figures(t, "mongo-restart",
		"tenants", len(want), "active_at_kill", activeAtKill, "down", down,
		"ready_503_after_kill", firstDown.Sub(killed),
		"ready_after_restart", firstUp.Sub(restarted), "leader_after_restart", leaderAgain.Sub(restarted),
		"all_active_after_restart", activeAt.Sub(restarted),
		"new_tenant_active_after_create_max", afterMax,
		"active_per_s_before_kill", fmt.Sprintf("%.1f", rateBefore), "active_per_s_after_restart", fmt.Sprintf("%.1f", rateAfter),
		"requests", len(rec.results()), "503s", n503, "503_p50", percentile(lat503, 0.5),
		"503_p99", percentile(lat503, 0.99), "503_max", percentile(lat503, 1), "5xx_other", n5xx)
}
