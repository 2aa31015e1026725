package controller

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/controller/workqueue"
	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/authentik"
	"github.com/dezky/platform-api/integrations/ocis"
	authentiksim "github.com/dezky/platform-api/integrations/sim/authentik"
	"github.com/dezky/platform-api/integrations/sim/faults"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
	"github.com/dezky/platform-api/integrations/stalwart"
	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// scaleLatency is the simulators' latency per request in the resync benchmarks: a realistic
// round trip to an upstream in another network.
const scaleLatency = 20 * time.Millisecond

const scaleOwner = "owner@scale.example"

// scaleFullAt is the fleet size from which the per-tenant comparison and the drift run are
// made (CONTROLLER_BENCH_FULL_AT, default 10000).
func scaleFullAt() int {
	if n, err := strconv.Atoi(os.Getenv("CONTROLLER_BENCH_FULL_AT")); err == nil && n > 0 {
		return n
	}
	return 10_000
}

// scaleFleet is n converged tenants: their objects in the three simulators exactly as the
// clients create them (seeded out of band: converging 10,000 tenants through the API would
// take longer than the benchmark itself), their tenant and status documents in the store
// exactly as the controller writes them (built with its own status code, inserted in bulk:
// FerretDB's SQLite backend scans the collection on every update).
type scaleFleet struct {
	ak      *authentiksim.Server
	sw      *stalwartsim.Server
	oc      *ocissim.Server
	steps   []integrations.Step
	st      *store.Store // the controller's, counted
	cc      *commandCounter
	tenants []store.Tenant
}

func newScaleFleet(b *testing.B, n int) *scaleFleet {
	b.Helper()
	f := &scaleFleet{
		ak: authentiksim.New(authentiksim.Options{Token: "t"}),
		sw: stalwartsim.New(stalwartsim.Options{Token: "t"}),
		oc: ocissim.New(ocissim.Options{ClientID: "c", ClientSecret: "s", TokenTTL: time.Hour}),
		cc: &commandCounter{n: map[string]int{}},
	}
	serve := func(h http.Handler) string {
		srv := httptest.NewServer(h)
		b.Cleanup(srv.Close)
		return srv.URL
	}
	akURL, swURL, ocURL := serve(f.ak), serve(f.sw), serve(f.oc)
	a, err := authentik.New(authentik.Config{BaseURL: akURL, Token: "t"})
	if err != nil {
		b.Fatal(err)
	}
	s, err := stalwart.New(stalwart.Config{BaseURL: swURL, Token: "t"})
	if err != nil {
		b.Fatal(err)
	}
	o, err := ocis.New(ocis.Config{BaseURL: ocURL, TokenURL: ocissim.TokenURL(ocURL), ClientID: "c", ClientSecret: "s"})
	if err != nil {
		b.Fatal(err)
	}
	f.steps = []integrations.Step{a, s, o}

	creator := storetest.NewStore(b)
	f.st = storetest.NewStoreWith(b, storetest.Options{Database: creator.DatabaseName(),
		Store: store.Options{Monitor: f.cc.monitor()}})
	c := New(f.st, f.steps, Options{Logger: testLogger()})
	ownerPK := f.ak.AddUser("owner", scaleOwner)
	now := creator.Now()
	var tenants, statuses []any
	flush := func() {
		if len(tenants) == 0 {
			return
		}
		db := storetest.DB(b, creator)
		if _, err := db.Collection(store.CollTenants).InsertMany(ctxT(b), tenants); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Collection(store.CollTenantStatus).InsertMany(ctxT(b), statuses); err != nil {
			b.Fatal(err)
		}
		tenants, statuses = tenants[:0], statuses[:0]
	}
	for i := 0; i < n; i++ {
		slug := fmt.Sprintf("s-%06d", i)
		t := store.Tenant{ID: bson.NewObjectID(),
			Metadata: store.Metadata{Slug: slug, Generation: 1, ResourceVersion: 1, CreatedAt: now, UpdatedAt: now},
			Spec: store.Spec{Name: "Scale " + slug, Plan: "starter", ManagementPolicy: store.PolicyFull,
				Owner: store.Owner{Sub: "s", Email: scaleOwner}, Mail: &store.MailSpec{Domain: slug + ".example"}}}
		d := desired(&t, "")
		ids := f.seedUpstreams(b, d, ownerPK)
		next := c.baseStatus(&t, nil, now)
		for j, st := range f.steps {
			applyOutcome(next, stepOutcome{name: st.Name(), observed: true,
				obs: integrations.Observation{Exists: true, ExternalID: ids[j], Owner: integrations.Ours}}, 1, now)
		}
		c.summarise(next, &t, nil, now)
		next.LastReconciledAt = &now
		f.tenants = append(f.tenants, t)
		tenants, statuses = append(tenants, t), append(statuses, next)
		if len(tenants) == 1000 {
			flush()
		}
	}
	flush()
	return f
}

// seedUpstreams creates one tenant's objects as the clients would, and returns their ids in
// step order.
func (f *scaleFleet) seedUpstreams(b *testing.B, d integrations.Desired, ownerPK int) []string {
	name := "tenant-" + d.Slug
	pk, err := f.ak.CreateGroupOutOfBand(name, map[string]any{
		authentik.AttrTenantSlug: d.Slug, authentik.AttrTenantID: d.TenantID, authentik.AttrSuspended: false})
	if err != nil {
		b.Fatal(err)
	}
	f.ak.AddMemberOutOfBand(name, ownerPK)
	marker := integrations.Marker(d.TenantID)
	domID, err := f.sw.CreateDomainOutOfBand(d.MailDomain, marker)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.sw.CreateAccountOutOfBand("Group", d.MailDomain, "team", marker, d.MailQuotaBytes); err != nil {
		b.Fatal(err)
	}
	sp := f.oc.CreateDriveAs(f.oc.ServiceUserID(), ocis.SpaceName(d.Name, d.Slug), marker)
	f.oc.SetQuota(sp.ID, d.StorageQuotaBytes)
	g, err := f.oc.AddGroup(name)
	if err != nil {
		b.Fatal(err)
	}
	f.oc.GrantGroup(sp.ID, g.ID, ocis.RoleManager)
	return []string{pk, domID, sp.ID}
}

// upstreamCalls is the number of requests the three simulators received.
func (f *scaleFleet) upstreamCalls() int {
	return f.ak.Faults().Calls() + f.sw.Faults().Calls() + f.oc.Faults().Calls()
}

func (f *scaleFleet) setLatency(d time.Duration) {
	for _, in := range []*faults.Injector{f.ak.Faults(), f.sw.Faults(), f.oc.Faults()} {
		in.Set(faults.Config{Latency: d})
	}
}

// resyncRun is what one resync cost.
type resyncRun struct {
	took                         time.Duration
	roundTrips, writes, upstream int
	reconciled                   map[bson.ObjectID]bool
}

// resyncOnce runs one resync of the fleet in mode with CONTROLLER_WORKERS' default of 8
// workers, and returns once every queued tenant was reconciled.
func (f *scaleFleet) resyncOnce(b *testing.B, mode string) resyncRun {
	b.Helper()
	var mu sync.Mutex
	var done atomic.Int64
	run := resyncRun{reconciled: map[bson.ObjectID]bool{}}
	c := New(f.st, f.steps, Options{Logger: testLogger(), ResyncMode: mode, OnReconcile: func(i ReconcileInfo) {
		mu.Lock()
		run.reconciled[i.TenantID] = true
		mu.Unlock()
		done.Add(1)
	}})
	ctx := context.Background()
	_, lose := context.WithCancelCause(ctx)
	s := &session{term: 1, q: workqueue.New[bson.ObjectID](workqueue.Options{}), lose: lose}
	var workers sync.WaitGroup
	for range c.o.Workers {
		workers.Go(func() { c.runWorker(ctx, s) })
	}
	f.cc.reset()
	calls := f.upstreamCalls()
	start := time.Now()
	queued, err := c.resync(ctx, s, "benchmark")
	if err != nil {
		b.Fatal(err)
	}
	eventually(b, 30*time.Minute, "every queued tenant reconciled", func() bool {
		return done.Load() >= int64(queued) && s.q.Len() == 0
	})
	s.q.ShutDownWithDrain()
	workers.Wait()
	run.took = time.Since(start)
	counts := f.cc.reset()
	run.roundTrips = sum(counts, func(string) bool { return true })
	run.writes = sum(counts, isWrite)
	run.upstream = f.upstreamCalls() - calls
	b.Logf("%s resync: %v, %d reconciled, %d store round trips (%d writes), %d upstream requests; commands: %v",
		mode, run.took, len(run.reconciled), run.roundTrips, run.writes, run.upstream, counts)
	return run
}

// BenchmarkResyncAtScale measures a resync of stable tenants by listing (the default) and, at
// 10,000 tenants, the per-tenant resync it replaced, with the simulators answering every request
// after 20 ms; then drift injected into 1 % of the tenants and repaired by one resync. Figures
// per stable tenant: store round trips, writes and upstream requests; the wall times and their
// ratio. CONTROLLER_BENCH_SKIP_PER_TENANT=1 leaves the slow per-tenant run out.
func BenchmarkResyncAtScale(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			for b.Loop() {
				start := time.Now()
				f := newScaleFleet(b, n)
				b.Logf("seeded %d converged tenants in %v", n, time.Since(start))
				f.setLatency(scaleLatency)
				list := f.resyncOnce(b, ResyncList)
				if len(list.reconciled) != 0 {
					b.Fatalf("a listing resync of stable tenants reconciled %d of them", len(list.reconciled))
				}
				b.ReportMetric(float64(list.roundTrips)/float64(n), "rt/stable-tenant")
				b.ReportMetric(float64(list.writes)/float64(n), "writes/stable-tenant")
				b.ReportMetric(float64(list.upstream)/float64(n), "upstream-req/stable-tenant")
				b.ReportMetric(list.took.Seconds(), "list-resync-s")
				if n < scaleFullAt() {
					continue
				}
				if os.Getenv("CONTROLLER_BENCH_SKIP_PER_TENANT") == "" {
					per := f.resyncOnce(b, ResyncPerTenant)
					b.ReportMetric(per.took.Seconds(), "per-tenant-resync-s")
					b.ReportMetric(float64(per.roundTrips)/float64(n), "per-tenant-rt/tenant")
					b.ReportMetric(float64(per.upstream)/float64(n), "per-tenant-upstream-req/tenant")
					b.ReportMetric(per.took.Seconds()/list.took.Seconds(), "speedup-x")
				}
				drifted := f.injectDrift(b, n/100)
				fix := f.resyncOnce(b, ResyncList)
				f.setLatency(0)
				repaired := f.repaired(b, drifted)
				others := 0
				for id := range fix.reconciled {
					if !drifted[id] {
						others++
					}
				}
				b.ReportMetric(float64(len(drifted)), "drifted")
				b.ReportMetric(float64(repaired), "repaired-by-one-resync")
				b.ReportMetric(float64(others), "undrifted-reconciled")
				b.ReportMetric(fix.took.Seconds(), "drift-resync-s")
			}
		})
	}
}

// injectDrift changes k tenants out of band, a third in each upstream: a quota in oCIS, the
// team account's quota in Stalwart, the slug attribute in Authentik.
func (f *scaleFleet) injectDrift(b *testing.B, k int) map[bson.ObjectID]bool {
	drifted := map[bson.ObjectID]bool{}
	spaces := map[string]string{}
	for _, d := range f.oc.Drives() {
		spaces[d.Name] = d.ID
	}
	for i := 0; i < k; i++ {
		t := f.tenants[i*len(f.tenants)/k]
		d := desired(&t, "")
		switch i % 3 {
		case 0:
			f.oc.SetQuota(spaces[ocis.SpaceName(d.Name, d.Slug)], 1)
		case 1:
			if err := f.sw.SetAccountQuota(d.MailDomain, "team", 1); err != nil {
				b.Fatal(err)
			}
		case 2:
			f.ak.SetGroupAttributes("tenant-"+d.Slug, map[string]any{
				authentik.AttrTenantSlug: "someone-else", authentik.AttrTenantID: d.TenantID, authentik.AttrSuspended: false})
		}
		drifted[t.ID] = true
	}
	return drifted
}

// repaired counts the drifted tenants whose upstream objects are back as desired.
func (f *scaleFleet) repaired(b *testing.B, drifted map[bson.ObjectID]bool) int {
	n := 0
	for _, t := range f.tenants {
		if !drifted[t.ID] {
			continue
		}
		d := desired(&t, "")
		ok := true
		for _, st := range f.steps {
			o, err := st.Observe(ctxT(b), d)
			ok = ok && err == nil && o.InSync()
		}
		if ok {
			n++
		}
	}
	return n
}
