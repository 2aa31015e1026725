package controller

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// leaderIntervals records when each controller led (from acquiring its term to having
// stopped every worker).
type leaderIntervals struct {
	mu   sync.Mutex
	open map[string]time.Time
	done []interval
}

type interval struct {
	who        string
	term       int64
	start, end time.Time
}

func (l *leaderIntervals) hook(who string) func(int64, bool) {
	return func(term int64, leading bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if leading {
			l.open[who] = time.Now()
			return
		}
		l.done = append(l.done, interval{who: who, term: term, start: l.open[who], end: time.Now()})
		delete(l.open, who)
	}
}

func (l *leaderIntervals) leader() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for who := range l.open {
		return who
	}
	return ""
}

func (l *leaderIntervals) startedAt(who string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.open[who]
	return t, ok
}

// assertNoOverlap checks that no two leadership intervals (closed ones, plus the open one
// until now) overlap.
func (l *leaderIntervals) assertNoOverlap(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	all := append([]interval(nil), l.done...)
	for who, s := range l.open {
		all = append(all, interval{who: who, start: s, end: time.Now()})
	}
	l.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].start.Before(all[j].start) })
	for i := 1; i < len(all); i++ {
		if all[i].start.Before(all[i-1].end) {
			t.Errorf("%s led from %v while %s led until %v", all[i].who, all[i].start.Format(time.StampMilli),
				all[i-1].who, all[i-1].end.Format(time.StampMilli))
		}
	}
	if len(all) < 2 {
		t.Errorf("only %d leadership intervals recorded", len(all))
	}
}

// haReplica is one replica: its own store connection (as another process would have), the
// shared upstreams.
type haReplica struct {
	name string
	c    *Controller
	stop func()
}

// TestHA: two controllers on one database never lead at once, every tenant converges once,
// and when the leader stops the other takes over within LeaseDuration + LeaseRenew, whether
// the leader released its term (clean stop) or not (crash).
func TestHA(t *testing.T) {
	st := storetest.NewStore(t)
	dbName := st.DatabaseName()
	steps := []*fakeStep{newFakeStep("authentik"), newFakeStep("stalwart"), newFakeStep("ocis")}
	isteps := []integrations.Step{steps[0], steps[1], steps[2]}
	intervals := &leaderIntervals{open: map[string]time.Time{}}
	opts := testOptions()
	opts.LeaseDuration, opts.LeaseRenew = 1500*time.Millisecond, 500*time.Millisecond
	takeover := opts.LeaseDuration + opts.LeaseRenew

	start := func(name string) *haReplica {
		o := opts
		o.Identity = name
		rst := storetest.NewStoreWith(t, storetest.Options{Database: dbName})
		c := New(rst, isteps, o)
		c.onLeading = intervals.hook(name)
		return &haReplica{name: name, c: c, stop: runController(t, c)}
	}
	replicas := map[string]*haReplica{}
	for _, n := range []string{"a", "b"} {
		replicas[n] = start(n)
	}
	eventually(t, 10*time.Second, "a leader", func() bool { return intervals.leader() != "" })
	first := replicas[intervals.leader()]
	for name, r := range replicas {
		if r == first {
			continue
		}
		eventually(t, 10*time.Second, name+" standing by", func() bool {
			ready, d := r.c.Readiness()
			return ready && d["controller"] == RoleStandby
		})
	}

	create := func(prefix string, n int) []bson.ObjectID {
		var ids []bson.ObjectID
		for i := 0; i < n; i++ {
			tn, err := st.CreateTenant(ctxT(t), newTenantSpec(fmt.Sprintf("%s-%02d", prefix, i)))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tn.ID)
		}
		return ids
	}
	converged := func(ids []bson.ObjectID) {
		t.Helper()
		eventually(t, 60*time.Second, fmt.Sprintf("%d tenants Active", len(ids)), func() bool {
			for _, id := range ids {
				s, err := st.GetStatus(ctxT(t), id)
				if err != nil || s.Phase != store.PhaseActive {
					return false
				}
			}
			return true
		})
		for _, id := range ids {
			for _, f := range steps {
				if n := f.createdCount(id.Hex()); n != 1 {
					t.Fatalf("%s object of %s created %d times", f.name, id.Hex(), n)
				}
			}
		}
	}
	converged(create("ha", 20))

	// Clean stop: the leader releases its term; the standby takes over at its next look.
	stopped := time.Now()
	first.stop()
	second := replicas[otherThan(replicas, first.name)]
	eventually(t, 2*takeover+5*time.Second, second.name+" leads", func() bool {
		_, ok := intervals.startedAt(second.name)
		return ok
	})
	at, _ := intervals.startedAt(second.name)
	t.Logf("takeover after a clean stop: %v", at.Sub(stopped))
	if at.Sub(stopped) > takeover {
		t.Errorf("takeover after a clean stop took %v, more than %v", at.Sub(stopped), takeover)
	}
	converged(create("after-clean", 5))

	// Crash: the leader keeps its term (no release); a new replica takes over once it expires.
	third := start("c")
	eventually(t, 10*time.Second, "c standing by", func() bool { _, d := third.c.Readiness(); return d["controller"] == RoleStandby })
	second.c.skipRelease.Store(true)
	stopped = time.Now()
	second.stop()
	eventually(t, 2*takeover+5*time.Second, "c leads", func() bool { _, ok := intervals.startedAt("c"); return ok })
	// The term was last renewed before the stop, so expiry comes at most LeaseDuration after
	// it; c looks every LeaseRenew. Allow one more renew period for a loaded machine.
	at, _ = intervals.startedAt("c")
	t.Logf("takeover after a crash: %v", at.Sub(stopped))
	if at.Sub(stopped) > takeover+opts.LeaseRenew {
		t.Errorf("takeover after a crash took %v, more than %v", at.Sub(stopped), takeover+opts.LeaseRenew)
	}
	converged(create("after-crash", 5))
	intervals.assertNoOverlap(t)
}

func otherThan(rs map[string]*haReplica, name string) string {
	for n := range rs {
		if n != name {
			return n
		}
	}
	return ""
}

// TestDeposedLeaderStops: a leader that finds a newer term (it was deemed expired) stops its
// workers at its next renewal, then campaigns again and takes a later term.
func TestDeposedLeaderStops(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.LeaseDuration, o.LeaseRenew = 1500*time.Millisecond, 500*time.Millisecond })
	intervals := &leaderIntervals{open: map[string]time.Time{}}
	c := New(e.st, e.integrationSteps(), e.opts)
	c.onLeading = intervals.hook("me")
	e.c = c
	runController(t, c)
	eventually(t, 10*time.Second, "leads", func() bool { return intervals.leader() == "me" })
	now := e.st.Now()
	intruder := store.LeaseTerm{ID: "platform-controller/2", Name: "platform-controller", Term: 2, Holder: "intruder",
		AcquiredAt: now, RenewedAt: now, ExpiresAt: now.Add(time.Second)}
	if _, err := storetest.DB(t, e.st).Collection(store.CollLeases).InsertOne(ctxT(t), intruder); err != nil {
		t.Fatal(err)
	}
	inserted := time.Now()
	eventually(t, 10*time.Second, "stepped down", func() bool { return intervals.leader() == "" })
	if d := time.Since(inserted); d > e.opts.LeaseRenew+time.Second {
		t.Errorf("stepped down %v after a newer term appeared", d)
	}
	eventually(t, 10*time.Second, "leads again at term 3", func() bool {
		_, ok := intervals.startedAt("me")
		return ok
	})
	intervals.mu.Lock()
	defer intervals.mu.Unlock()
	if len(intervals.done) != 1 || intervals.done[0].term != 1 {
		t.Errorf("intervals %+v", intervals.done)
	}
	if _, d := c.Readiness(); d["controller"] != RoleLeader {
		t.Errorf("readiness %v", d)
	}
}

// TestFencedWriteStopsLeader: a status written under a newer term refuses our write
// (store.ErrFenced); the controller takes that as proof it was deposed and stops leading.
func TestFencedWriteStopsLeader(t *testing.T) {
	e := newEnv(t)
	intervals := &leaderIntervals{open: map[string]time.Time{}}
	c := New(e.st, e.integrationSteps(), e.opts)
	c.onLeading = intervals.hook("me")
	e.c = c
	runController(t, c)
	eventually(t, 10*time.Second, "leads", func() bool { return intervals.leader() == "me" })
	tn := e.createTenant("fenced")
	e.waitPhase(tn.ID, store.PhaseActive)
	if _, err := storetest.DB(t, e.st).Collection(store.CollTenantStatus).UpdateOne(ctxT(t), bson.D{{Key: "_id", Value: tn.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "leaderTerm", Value: 99}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateSpec(ctxT(t), "fenced", 0, func(s *store.Spec) error { s.Name = "Newer"; return nil }); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "stepped down after a fenced write", func() bool {
		intervals.mu.Lock()
		defer intervals.mu.Unlock()
		return len(intervals.done) > 0
	})
	if st := e.status(tn.ID); st.ObservedGeneration != 1 || st.LeaderTerm != 99 {
		t.Errorf("the fenced status was overwritten: %+v", st)
	}
}

// TestLeaderStopsBeforeLeaseEnds: a leader that can no longer reach the database (so cannot
// renew) stops its workers before its term could expire, so a standby that can reach it never
// overlaps with it.
func TestLeaderStopsBeforeLeaseEnds(t *testing.T) {
	srv, err := storetest.StartFerretDB(ctxT(t), t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	// A short server-selection timeout: cleanup talks to a server that is gone.
	st := storetest.NewStoreWith(t, storetest.Options{Server: srv, Store: store.Options{Timeout: time.Second, ServerSelectionTimeout: time.Second}})
	o := testOptions()
	o.LeaseDuration, o.LeaseRenew = 1500*time.Millisecond, 500*time.Millisecond
	intervals := &leaderIntervals{open: map[string]time.Time{}}
	c := New(st, nil, o)
	c.onLeading = intervals.hook("me")
	runController(t, c)
	eventually(t, 10*time.Second, "leads", func() bool { return intervals.leader() == "me" })
	// Let one renewal succeed so the term's last renewal is known to be before the stop.
	eventually(t, 10*time.Second, "ready leader", func() bool { ready, _ := c.Readiness(); return ready })
	stopped := time.Now()
	srv.Stop()
	t.Logf("server stopped in %v", time.Since(stopped))
	eventually(t, 10*time.Second, "stepped down", func() bool { return intervals.leader() == "" })
	intervals.mu.Lock()
	end := intervals.done[0].end
	intervals.mu.Unlock()
	// The term lasts LeaseDuration from the start of its last successful renewal (by the
	// holder's clock); the workers must be stopped before then.
	expiry := time.Unix(0, c.validFrom.Load()).Add(o.LeaseDuration)
	if !end.Before(expiry) {
		t.Errorf("workers stopped at %v, after the term's earliest expiry %v", end.Format(time.StampMilli), expiry.Format(time.StampMilli))
	}
	if ready, d := c.Readiness(); ready {
		t.Errorf("ready without a database: %v", d)
	}
	t.Logf("stepped down %v before the term could expire", expiry.Sub(end))
}
