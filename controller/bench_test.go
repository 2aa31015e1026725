package controller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dezky/platform-api/controller/workqueue"
	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// BenchmarkResyncHeap measures the heap while a full resync streams every tenant id into the
// queue (workers take each key and do nothing else, so only the resync's own memory shows).
// The figures to compare across sizes are the live heap half-way through (after a forced GC)
// against the live heap before, and the peak HeapAlloc; both should stay flat from 10,000 to
// 100,000 tenants because AddWait holds at most LowLimit keys and the cursor is the buffer.
// Inserting 100,000 tenants into FerretDB takes about 16s here (InsertMany, batches of 1,000)
// and the resync as long; CONTROLLER_BENCH_SKIP_100K=1 leaves that size out.
func BenchmarkResyncHeap(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			if n > 10_000 && os.Getenv("CONTROLLER_BENCH_SKIP_100K") != "" {
				b.Skip("CONTROLLER_BENCH_SKIP_100K is set")
			}
			st := storetest.NewStore(b)
			start := time.Now()
			insertTenants(b, st, n)
			b.Logf("inserted %d tenants in %v", n, time.Since(start))
			c := New(st, nil, Options{Logger: testLogger()})
			for b.Loop() {
				base, live, peak, took := resyncHeap(b, c, n)
				b.ReportMetric(float64(base)/(1<<20), "live-heap-before-MB")
				b.ReportMetric(float64(live)/(1<<20), "live-heap-midway-MB")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
				b.ReportMetric(took.Seconds(), "resync-s")
			}
		})
	}
}

// insertTenants inserts n minimal tenant documents with InsertMany in batches of 1,000.
func insertTenants(tb testing.TB, st *store.Store, n int) {
	tb.Helper()
	ctx := ctxT(tb)
	now := st.Now()
	batch := make([]any, 0, 1000)
	for i := 0; i < n; i++ {
		batch = append(batch, store.Tenant{
			ID: bson.NewObjectID(),
			Metadata: store.Metadata{Slug: fmt.Sprintf("t-%07d", i), Generation: 1, ResourceVersion: 1,
				CreatedAt: now, UpdatedAt: now},
			Spec: store.Spec{Name: fmt.Sprintf("Tenant %d", i), Plan: "starter", Owner: store.Owner{Sub: "s", Email: "o@example.com"}},
		})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := storetest.DB(tb, st).Collection(store.CollTenants).InsertMany(ctx, batch, options.InsertMany().SetOrdered(false)); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// resyncHeap runs one resync into a fresh queue drained by 8 no-op workers; it returns the
// live heap before and half-way (each after a forced GC), the peak HeapAlloc sampled every
// 2ms, and the time until every key was taken.
func resyncHeap(b *testing.B, c *Controller, n int) (base, live, peak uint64, took time.Duration) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base = ms.HeapAlloc
	s := &session{term: 1, q: workqueue.New[bson.ObjectID](workqueue.Options{})}
	defer s.q.ShutDown()

	var taken atomic.Int64
	var mid uint64
	var midOnce sync.Once
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				k, _, shut := s.q.Get()
				if shut {
					return
				}
				if taken.Add(1) == int64(n/2) {
					midOnce.Do(func() {
						runtime.GC()
						var m runtime.MemStats
						runtime.ReadMemStats(&m)
						mid = m.HeapAlloc
					})
				}
				s.q.Done(k)
			}
		})
	}
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
		}
	})
	start := time.Now()
	if _, err := c.resync(context.Background(), s, "benchmark"); err != nil {
		b.Fatal(err)
	}
	for taken.Load() < int64(n) {
		runtime.Gosched()
	}
	took = time.Since(start)
	close(stopSampling)
	sampler.Wait()
	s.q.ShutDown()
	wg.Wait()
	return base, mid, peak, took
}

// commandCounter counts store round trips by kind, from the driver's command monitor.
type commandCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (cc *commandCounter) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, ev *event.CommandStartedEvent) {
		k := commandKind(ev)
		cc.mu.Lock()
		cc.n[k]++
		cc.mu.Unlock()
	}}
}

func (cc *commandCounter) reset() map[string]int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	old := cc.n
	cc.n = map[string]int{}
	return old
}

// commandKind names a command "<name> <collection>[ by <first filter key>]".
func commandKind(ev *event.CommandStartedEvent) string {
	coll, _ := ev.Command.Lookup(ev.CommandName).StringValueOK()
	if ev.CommandName == "getMore" {
		coll, _ = ev.Command.Lookup("collection").StringValueOK()
	}
	k := ev.CommandName + " " + coll
	if f, ok := ev.Command.Lookup("filter").DocumentOK(); ok {
		if elems, _ := f.Elements(); len(elems) > 0 {
			k += " by " + elems[0].Key()
		}
	}
	return k
}

// reconcileKinds are the commands a reconcile issues (everything else is background: poll,
// resync stream, lease, resync-request checks).
func isReconcileCommand(kind string) bool {
	for _, p := range []string{"find tenants by _id", "find tenant_status", "update tenant_status", "insert events",
		"find events", "delete events"} {
		if strings.HasPrefix(kind, p) {
			return true
		}
	}
	return false
}

func sum(m map[string]int, pred func(string) bool) int {
	n := 0
	for k, v := range m {
		if pred(k) {
			n += v
		}
	}
	return n
}

func isWrite(kind string) bool {
	return strings.HasPrefix(kind, "update ") || strings.HasPrefix(kind, "insert ") || strings.HasPrefix(kind, "delete ")
}

// BenchmarkStoreRoundTrips counts the controller's store round trips (driver command monitor
// on the controller's own connection; tenants are created through another one):
//   - rt/converged-tenant: reconcile commands per tenant, from creation to Active (floor: read
//     tenant + read status + one status write = 3; the events insert makes 4);
//   - rt-all/converged-tenant: the same plus the amortised background (poll, lease, checks);
//   - rt/stable-tenant-resync, writes/stable-tenant-resync, upstream-calls/stable-tenant-resync:
//     one full per-tenant resync (RESYNC_MODE=per-tenant) of converged tenants, the stage-1
//     floor the listing resync is compared against (BenchmarkResyncAtScale measures that).
func BenchmarkStoreRoundTrips(b *testing.B) {
	const n = 100
	for b.Loop() {
		cc := &commandCounter{n: map[string]int{}}
		creator := storetest.NewStore(b)
		st := storetest.NewStoreWith(b, storetest.Options{Database: creator.DatabaseName(),
			Store: store.Options{Monitor: cc.monitor()}})
		steps := []*fakeStep{newFakeStep("authentik"), newFakeStep("stalwart"), newFakeStep("ocis")}
		var reconciles atomic.Int64
		o := testOptions()
		o.ResyncMode = ResyncPerTenant
		o.OnReconcile = func(ReconcileInfo) { reconciles.Add(1) }
		c := New(st, []integrations.Step{steps[0], steps[1], steps[2]}, o)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = c.Run(ctx) }()
		eventually(b, 10*time.Second, "leader", func() bool { _, d := c.Readiness(); return d["controller"] == RoleLeader })
		cc.reset()

		for i := 0; i < n; i++ {
			if _, err := creator.CreateTenant(ctxT(b), newTenantSpec(fmt.Sprintf("rt-%03d", i))); err != nil {
				b.Fatal(err)
			}
		}
		eventually(b, 60*time.Second, "all Active", func() bool {
			k, _ := storetest.DB(b, creator).Collection(store.CollTenantStatus).CountDocuments(ctxT(b), bson.D{{Key: "phase", Value: store.PhaseActive}})
			return k == n
		})
		eventually(b, 10*time.Second, "reconciles reported", func() bool { return reconciles.Load() >= n })
		conv := cc.reset()
		b.ReportMetric(float64(sum(conv, isReconcileCommand))/n, "rt/converged-tenant")
		b.ReportMetric(float64(sum(conv, func(string) bool { return true }))/n, "rt-all/converged-tenant")
		logCounts(b, "convergence", conv)

		calls := 0
		for _, f := range steps {
			calls += f.totalCalls()
		}
		before := reconciles.Load()
		cc.reset()
		if _, err := creator.RequestResync(ctxT(b)); err != nil {
			b.Fatal(err)
		}
		eventually(b, 60*time.Second, "resync reconciled every tenant", func() bool { return reconciles.Load() >= before+n })
		stable := cc.reset()
		resyncStream := func(k string) bool { return k == "find tenants" || k == "getMore tenants" }
		b.ReportMetric(float64(sum(stable, func(k string) bool { return isReconcileCommand(k) || resyncStream(k) }))/n, "rt/stable-tenant-resync")
		b.ReportMetric(float64(sum(stable, func(k string) bool { return isReconcileCommand(k) && isWrite(k) }))/n, "writes/stable-tenant-resync")
		after := 0
		for _, f := range steps {
			after += f.totalCalls()
		}
		b.ReportMetric(float64(after-calls)/n, "upstream-calls/stable-tenant-resync")
		logCounts(b, "stable resync", stable)
		cancel()
		<-done
	}
}

func logCounts(b *testing.B, what string, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "\n  %-40s %d", k, m[k])
	}
	b.Logf("%s commands:%s", what, sb.String())
}

// BenchmarkPollReaction measures write → reconcile start through the poll source, at the
// default POLL_INTERVAL (1s) and at the 200ms of the acceptance timing profile (docs/ARCHITECTURE.md, "Sources"): p50 and p99 (of
// 20/40 samples: p99 is close to the maximum).
func BenchmarkPollReaction(b *testing.B) {
	for _, tc := range []struct {
		interval time.Duration
		samples  int
	}{{200 * time.Millisecond, 40}, {time.Second, 20}} {
		b.Run("poll="+tc.interval.String(), func(b *testing.B) {
			for b.Loop() {
				p50, p99 := pollReaction(b, tc.interval, tc.samples)
				b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			}
		})
	}
}

func pollReaction(b *testing.B, interval time.Duration, samples int) (p50, p99 time.Duration) {
	st := storetest.NewStore(b)
	type start struct {
		gen int64
		at  time.Time
	}
	starts := make(chan start, 100)
	o := testOptions()
	o.PollInterval = interval
	o.OnReconcile = func(i ReconcileInfo) { starts <- start{i.Generation, i.Started} }
	c := New(st, []integrations.Step{newFakeStep("authentik")}, o)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(b, 10*time.Second, "leader", func() bool { _, d := c.Readiness(); return d["source"] != "" })
	if _, d := c.Readiness(); d["source"] != SourcePoll {
		b.Skipf("source is %s", d["source"])
	}
	if _, err := st.CreateTenant(ctxT(b), newTenantSpec("react")); err != nil {
		b.Fatal(err)
	}
	waitGen := func(gen int64) time.Time {
		for {
			select {
			case s := <-starts:
				if s.gen == gen {
					return s.at
				}
			case <-time.After(30 * time.Second):
				b.Fatalf("no reconcile of generation %d", gen)
			}
		}
	}
	waitGen(1)
	var lat []time.Duration
	for i := 0; i < samples; i++ {
		// Write at a random phase of the poll cycle: writing right after the previous reconcile
		// started would always land just after a poll and measure a whole interval.
		time.Sleep(rand.N(interval))
		t, err := st.UpdateSpec(ctxT(b), "react", 0, func(s *store.Spec) error { s.Name = fmt.Sprintf("Name %d", i); return nil })
		if err != nil {
			b.Fatal(err)
		}
		written := time.Now()
		lat = append(lat, waitGen(t.Metadata.Generation).Sub(written))
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[(len(lat)*99)/100]
}
