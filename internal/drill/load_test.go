package drill_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDrillBoundedLoad: a fixed rate of mixed requests (reads of one tenant, of the caller's
// tenant list and of /me, and creates) from several users against one platform-api process
// whose controller converges what is created meanwhile. The load is open-loop at a fixed rate
// on loopback and stops by itself. Checks: no 5xx, every request answered, every tenant
// created ends Active with one object per tenant in each upstream. Figures: p50/p99 per kind
// and overall, the rate achieved.
func TestDrillBoundedLoad(t *testing.T) {
	rate := size(50, 100)                      // requests per second
	dur := size(5*time.Second, 30*time.Second) // how long the load runs
	const inflightMax = 64                     // at most this many requests at once
	f := startFerret(t)
	u := startUpstreams(t)
	api := startAPI(t, "platform-api", platformEnv(u, f.URI, map[string]string{"POLL_INTERVAL": "200ms"}))
	eventually(t, 60*time.Second, "a ready leader", func() bool { c, role := api.ready(); return c == 200 && role == "leader" })
	base := func() string { return api.URL }
	op := u.operatorToken(t)

	ctx, cancel := context.WithTimeout(context.Background(), size(3*time.Minute, 15*time.Minute))
	defer cancel()
	users := make([]user, 10)
	for i := range users {
		users[i] = u.newUser(t, fmt.Sprintf("l%d", i))
	}
	created := &tenantSet{}
	// Each user starts with two tenants, so every read has something to find.
	owned := make([][]string, len(users))
	for i, us := range users {
		for j := 0; j < 2; j++ {
			slug := fmt.Sprintf("l%d-seed-%d", i, j)
			uid, err := createTenant(ctx, nil, base, us, slug)
			if err != nil {
				t.Fatal(err)
			}
			created.add(uid, slug)
			owned[i] = append(owned[i], slug)
		}
	}

	rec := &recorder{}
	var inflight sync.WaitGroup
	sem := make(chan struct{}, inflightMax)
	var skipped, seq atomic.Int64
	var createMu sync.Mutex
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	start := time.Now()
	for i := 0; time.Since(start) < dur; i++ {
		<-tick.C
		select {
		case sem <- struct{}{}:
		default:
			skipped.Add(1) // the server fell behind by inflightMax: counted, not queued
			continue
		}
		ui := i % len(users)
		us := users[ui]
		inflight.Go(func() {
			defer func() { <-sem }()
			switch k := i % 20; {
			case k < 7:
				createMu.Lock()
				slug := owned[ui][i%len(owned[ui])]
				createMu.Unlock()
				call(ctx, rec, "GET /tenants/:slug", http.MethodGet, base()+"/tenants/"+slug, us.token, nil)
			case k < 11:
				call(ctx, rec, "GET /tenants", http.MethodGet, base()+"/tenants", us.token, nil)
			case k < 16:
				call(ctx, rec, "GET /me", http.MethodGet, base()+"/me", us.token, nil)
			default:
				slug := fmt.Sprintf("l%d-%04d", ui, seq.Add(1))
				body := map[string]any{"slug": slug, "name": "Load " + slug, "mail": map[string]any{"domain": slug + ".drill.test"}}
				res := call(ctx, rec, "POST /tenants", http.MethodPost, base()+"/tenants", us.token, body)
				if res.code == http.StatusCreated {
					if uid, err := uidOf(res.body); err == nil {
						created.add(uid, slug)
						createMu.Lock()
						owned[ui] = append(owned[ui], slug)
						createMu.Unlock()
					}
				}
			}
		})
	}
	inflight.Wait()
	elapsed := time.Since(start)

	results := rec.results()
	byKind := map[string][]time.Duration{}
	var all []time.Duration
	bad := 0
	for _, r := range results {
		byKind[r.kind] = append(byKind[r.kind], r.took)
		all = append(all, r.took)
		ok := r.code == http.StatusOK || r.code == http.StatusCreated
		if !ok {
			bad++
			if bad <= 5 {
				t.Errorf("%s = %d %s %v", r.kind, r.code, r.body, r.err)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d requests failed (5xx, no answer or an unexpected status)", bad, len(results))
	}

	want := created.snapshot()
	var activeAfter time.Duration
	loadEnd := time.Now()
	eventuallyEvery(t, 250*time.Millisecond, size(3*time.Minute, 10*time.Minute), fmt.Sprintf("all %d tenants Active", len(want)), func() bool {
		ok, _ := allActive(ctx, base(), op, want)
		activeAfter = time.Since(loadEnd)
		return ok
	})
	u.checkOneObjectEach(t, want)

	kv := []any{"rate_target", rate, "duration", dur, "requests", len(results),
		"achieved_per_s", fmt.Sprintf("%.1f", float64(len(results))/elapsed.Seconds()),
		"skipped_over_inflight_cap", skipped.Load(), "failed", bad,
		"p50", percentile(all, 0.5), "p99", percentile(all, 0.99), "tenants", len(want),
		"all_active_after_load", activeAfter}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		name := map[string]string{"GET /tenants/:slug": "get_tenant", "GET /tenants": "list", "GET /me": "me", "POST /tenants": "create"}[k]
		kv = append(kv, name+"_p50", percentile(byKind[k], 0.5), name+"_p99", percentile(byKind[k], 0.99))
	}
	figures(t, "bounded-load", kv...)
}
