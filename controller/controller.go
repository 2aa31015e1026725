package controller

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/controller/workqueue"
	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
)

// Roles reported by Readiness under "controller".
const (
	RoleStarting = "starting"
	RoleStandby  = "standby"
	RoleLeader   = "leader"
)

// Sources reported by Readiness under "source".
const (
	SourceChangeStream = "changestream"
	SourcePoll         = "poll"
)

// Controller reconciles tenants while it holds the lease. Build it with New, start it with Run.
type Controller struct {
	st    *store.Store
	steps []integrations.Step
	o     Options
	log   *slog.Logger
	m     *metrics
	lease *lease

	// queue is the current leadership's work queue (nil while not leading), read by the depth
	// metric.
	queue atomic.Pointer[workqueue.Queue[bson.ObjectID]]

	// openStream opens the change stream on tenants; tests replace it with a fake stream.
	openStream func(ctx context.Context, token bson.Raw) (changeStream, error)
	// onLeading, when set (tests), is called when leadership starts and after it has fully
	// stopped (workers drained), before the lease is released.
	onLeading func(term int64, leading bool)

	// polls counts completed poll queries and checks the resync-request checks (tests observe
	// "n intervals passed" with them instead of sleeping).
	polls, checks atomic.Int64
	// validFrom is the local start (unix ns) of the last successful acquire or renewal: the
	// term is ours until at least validFrom + LeaseDuration (tests check the step-down against it).
	validFrom atomic.Int64
	// skipRelease (tests) makes a stopping leader keep its term, as a crashed one would.
	skipRelease atomic.Bool

	mu      sync.Mutex
	started bool   // Run was called and has not returned
	mongoOK bool   // the last lease operation reached the server
	role    string // RoleStarting, RoleStandby, RoleLeader
	source  string // "" until a leadership chose one
}

// New builds a controller over st driving steps (in order: teardown runs in reverse). Zero
// Options fields take their documented defaults.
func New(st *store.Store, steps []integrations.Step, o Options) *Controller {
	o = o.withDefaults()
	c := &Controller{
		st:    st,
		steps: steps,
		o:     o,
		log:   o.Logger.With("component", "controller"),
		role:  RoleStarting,
	}
	c.m = newMetrics(func() float64 {
		if q := c.queue.Load(); q != nil {
			return float64(q.Len())
		}
		return 0
	})
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name()
	}
	c.m.initDrift(names)
	if err := c.m.register(o.Registerer); err != nil {
		c.log.Warn("controller metrics not fully registered", "err", err)
	}
	c.lease = newLease(st, o.LeaseName, o.Identity, o.LeaseDuration)
	c.openStream = c.watchTenants
	return c
}

// Readiness reports whether this replica's controller is healthy enough to serve: true for the
// leader and for a standby once Run has started and Mongo answered the lease. details has
// "controller" (leader, standby or starting) and, once a leadership chose it, "source"
// (changestream or poll).
func (c *Controller) Readiness() (ready bool, details map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	details = map[string]string{"controller": c.role}
	if c.source != "" {
		details["source"] = c.source
	}
	return c.started && c.mongoOK && c.role != RoleStarting, details
}

func (c *Controller) setRole(role string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.role = role
}

func (c *Controller) setMongoOK(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mongoOK = ok
}

// setSource records the active change source; it logs only when the source changes, so the
// choice is logged once however often leadership is regained.
func (c *Controller) setSource(src, why string) {
	c.mu.Lock()
	prev := c.source
	c.source = src
	c.mu.Unlock()
	for _, s := range []string{SourceChangeStream, SourcePoll} {
		v := 0.0
		if s == src {
			v = 1
		}
		c.m.source.WithLabelValues(s).Set(v)
	}
	if prev != src {
		c.log.Info("change source active", "source", src, "reason", why)
	}
}
