package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// eventually polls cond until it holds or timeout passes (no sleeping as synchronisation).
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond) // polling interval of a condition with a deadline
	}
}

// call is one recorded Observe, Apply or Delete.
type call struct {
	op     string // ensure | delete
	tenant string // Desired.TenantID
	at     time.Time
	err    error
}

// fakeStep is an in-process upstream: one object per tenant, created by Apply when missing.
// It records every call with its time, counts creations, and takes injected faults.
type fakeStep struct {
	name string

	mu      sync.Mutex
	objects map[string]string // tenant id → external id
	created map[string]int    // tenant id → objects created
	calls   []call
	seq     int
	// ensureErr / deleteErr, when set, decide the n-th (1-based) call's error for a tenant.
	ensureErr func(d integrations.Desired, n int) error
	deleteErr func(d integrations.Desired, n int) error
	// listErr, when set, fails every listing.
	listErr error
	// listGate, when set, holds every listing until it is closed.
	listGate chan struct{}
	// gate, when set, holds every Observe until it is closed (or the context ends).
	gate chan struct{}
	// entered is signalled (non-blocking) when an Observe starts.
	entered chan string
	// order, shared between steps, records teardown order.
	order *orderLog
}

type orderLog struct {
	mu  sync.Mutex
	ops []string
}

func (o *orderLog) add(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ops = append(o.ops, s)
}

func (o *orderLog) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ops...)
}

func newFakeStep(name string) *fakeStep {
	return &fakeStep{name: name, objects: map[string]string{}, created: map[string]int{}}
}

func (f *fakeStep) Name() string { return f.name }

func (f *fakeStep) countCalls(op, tenant string) int {
	n := 0
	for _, c := range f.calls {
		if c.op == op && c.tenant == tenant {
			n++
		}
	}
	return n
}

// Observe counts as the step's run ("observe" calls): the gate, the entered signal and
// ensureErr apply here. It reports a missing object as drift.
func (f *fakeStep) Observe(ctx context.Context, d integrations.Desired) (integrations.Observation, error) {
	f.mu.Lock()
	gate, entered := f.gate, f.entered
	f.mu.Unlock()
	if entered != nil {
		select {
		case entered <- d.TenantID:
		default:
		}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return integrations.Observation{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.countCalls("observe", d.TenantID) + 1
	var err error
	if f.ensureErr != nil {
		err = f.ensureErr(d, n)
	}
	f.calls = append(f.calls, call{op: "observe", tenant: d.TenantID, at: time.Now(), err: err})
	if err != nil {
		return integrations.Observation{}, err
	}
	if id, ok := f.objects[d.TenantID]; ok {
		return integrations.Observation{Exists: true, ExternalID: id, Owner: integrations.Ours}, nil
	}
	return integrations.Observation{Drift: []integrations.Drift{{Field: "object", Want: d.Slug, Got: integrations.Missing}}}, nil
}

// Apply creates the object when it is missing ("apply" calls).
func (f *fakeStep) Apply(ctx context.Context, d integrations.Desired, o integrations.Observation) (integrations.Observed, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{op: "apply", tenant: d.TenantID, at: time.Now()})
	if id, ok := f.objects[d.TenantID]; ok {
		return integrations.Observed{ExternalID: id, Action: integrations.ActionUnchanged}, nil
	}
	f.seq++
	id := fmt.Sprintf("%s-%d", f.name, f.seq)
	f.objects[d.TenantID] = id
	f.created[d.TenantID]++
	return integrations.Observed{ExternalID: id, Action: integrations.ActionCreated}, nil
}

func (f *fakeStep) Delete(ctx context.Context, d integrations.Desired) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.countCalls("delete", d.TenantID) + 1
	var err error
	if f.deleteErr != nil {
		err = f.deleteErr(d, n)
	}
	f.calls = append(f.calls, call{op: "delete", tenant: d.TenantID, at: time.Now(), err: err})
	if err != nil {
		return err
	}
	delete(f.objects, d.TenantID)
	if f.order != nil {
		f.order.add(f.name)
	}
	return nil
}

// ObserveAll lists every object (a Lister, so the resync compares instead of observing each
// tenant): the snapshot answers from a copy of the objects ("list" calls).
func (f *fakeStep) ObserveAll(ctx context.Context) (integrations.Snapshot, error) {
	f.mu.Lock()
	gate := f.listGate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{op: "list", at: time.Now()})
	if f.listErr != nil {
		return nil, f.listErr
	}
	objs := make(map[string]string, len(f.objects))
	for k, v := range f.objects {
		objs[k] = v
	}
	return fakeSnapshot(objs), nil
}

// fakeSnapshot answers as Observe would, from the listed objects; a missing object is left to
// a live Observe.
type fakeSnapshot map[string]string

func (s fakeSnapshot) Observe(d integrations.Desired) (integrations.Observation, bool) {
	id, ok := s[d.TenantID]
	if !ok {
		return integrations.Observation{}, false
	}
	return integrations.Observation{Exists: true, ExternalID: id, Owner: integrations.Ours}, true
}

// vanish deletes a tenant's object behind the controller's back (drift).
func (f *fakeStep) vanish(tenant string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objects, tenant)
}

func (f *fakeStep) callsOf(op, tenant string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.op == op && c.tenant == tenant {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeStep) totalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeStep) createdCount(tenant string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.created[tenant]
}

func (f *fakeStep) has(tenant string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.objects[tenant]
	return ok
}

// reconcileLog collects OnReconcile reports.
type reconcileLog struct {
	mu   sync.Mutex
	list []ReconcileInfo
}

func (l *reconcileLog) add(i ReconcileInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, i)
}

func (l *reconcileLog) all() []ReconcileInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ReconcileInfo(nil), l.list...)
}

func (l *reconcileLog) count(id bson.ObjectID) int {
	n := 0
	for _, r := range l.all() {
		if r.TenantID == id {
			n++
		}
	}
	return n
}

func (l *reconcileLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.list)
}

func (l *reconcileLog) written() int {
	n := 0
	for _, r := range l.all() {
		if r.StatusWritten {
			n++
		}
	}
	return n
}

// testLogger discards logs unless CONTROLLER_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("CONTROLLER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testOptions are short intervals for a noisy 2-core machine.
func testOptions() Options {
	return Options{
		Workers:        4,
		PollInterval:   100 * time.Millisecond,
		ResyncInterval: time.Hour, // tests that want a resync set it
		StepTimeout:    5 * time.Second,
		// HA tests shorten the lease; a long one keeps the other tests free of leadership
		// changes when a loaded machine delays a renewal.
		LeaseDuration:  10 * time.Second,
		LeaseRenew:     2 * time.Second,
		BackoffInitial: 20 * time.Millisecond,
		BackoffMax:     time.Second,
		Logger:         testLogger(),
	}
}

// env is one controller over a fresh database with three fake steps.
type env struct {
	t     *testing.T
	st    *store.Store
	steps []*fakeStep
	log   *reconcileLog
	opts  Options
	c     *Controller
	stop  func()
}

func newEnv(t *testing.T, tweak ...func(*Options)) *env {
	t.Helper()
	e := &env{t: t, st: storetest.NewStore(t), log: &reconcileLog{}}
	for _, n := range []string{"authentik", "stalwart", "ocis"} {
		e.steps = append(e.steps, newFakeStep(n))
	}
	e.opts = testOptions()
	e.opts.OnReconcile = e.log.add
	for _, f := range tweak {
		f(&e.opts)
	}
	return e
}

func (e *env) integrationSteps() []integrations.Step {
	out := make([]integrations.Step, len(e.steps))
	for i, s := range e.steps {
		out[i] = s
	}
	return out
}

// start runs a controller until the test ends (or stop is called); it waits for leadership.
func (e *env) start(configure ...func(*Controller)) *Controller {
	e.t.Helper()
	c := New(e.st, e.integrationSteps(), e.opts)
	for _, f := range configure {
		f(c)
	}
	e.c = c
	e.stop = runController(e.t, c)
	eventually(e.t, 10*time.Second, "controller leads", func() bool {
		_, d := c.Readiness()
		return d["controller"] == RoleLeader && d["source"] != ""
	})
	return c
}

// runController runs c in a goroutine; the returned stop cancels it and waits for Run to
// return (also at test cleanup). Run must return nil.
func runController(t *testing.T, c *Controller) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return within 30s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newTenantSpec(slug string) store.NewTenant {
	return store.NewTenant{Slug: slug, Spec: store.Spec{
		Name: "Tenant " + slug, Plan: "standard",
		Owner: store.Owner{Sub: "sub-" + slug, Email: slug + "@example.com"},
		Mail:  &store.MailSpec{Domain: slug + ".example"},
	}}
}

func (e *env) createTenant(slug string) *store.Tenant {
	e.t.Helper()
	t, err := e.st.CreateTenant(ctxT(e.t), newTenantSpec(slug))
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

// status reads a tenant's status (nil when none).
func (e *env) status(id bson.ObjectID) *store.Status {
	e.t.Helper()
	st, err := e.st.GetStatus(ctxT(e.t), id)
	if err != nil {
		return nil
	}
	return st
}

func (e *env) waitPhase(id bson.ObjectID, phase string) *store.Status {
	e.t.Helper()
	var st *store.Status
	eventually(e.t, 20*time.Second, "tenant "+id.Hex()+" reaches "+phase, func() bool {
		st = e.status(id)
		return st != nil && st.Phase == phase
	})
	return st
}

// waitPolls waits until the leader's poller has completed n more poll queries: "n poll
// intervals have passed" observed, not slept.
func (e *env) waitPolls(n int64) {
	e.t.Helper()
	from := e.c.polls.Load()
	eventually(e.t, 10*time.Second+time.Duration(n)*e.opts.PollInterval, fmt.Sprintf("%d polls", n), func() bool {
		return e.c.polls.Load() >= from+n
	})
}

// waitChecks waits until the leader has made n more resync-request checks (one per
// min(PollInterval, 1s)): the change-stream counterpart of waitPolls.
func (e *env) waitChecks(n int64) {
	e.t.Helper()
	from := e.c.checks.Load()
	eventually(e.t, 10*time.Second+time.Duration(n)*e.opts.PollInterval, fmt.Sprintf("%d checks", n), func() bool {
		return e.c.checks.Load() >= from+n
	})
}

// waitIntervals waits for n intervals of the active source: poll queries on a server without
// change streams, resync-request checks (same period) with a change stream.
func (e *env) waitIntervals(n int64) {
	e.t.Helper()
	if _, d := e.c.Readiness(); d["source"] == SourcePoll {
		e.waitPolls(n)
		return
	}
	e.waitChecks(n)
}
