package controller

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// Options configures New. The zero value of each field means its documented default.
type Options struct {
	// Workers reconcile tenants in parallel (CONTROLLER_WORKERS). Defaults to 8: enough to hide
	// upstream latency, few enough to respect upstream rate limits.
	Workers int
	// PollInterval is how often the poll fallback reads recently updated tenants, and how often
	// (at most every second) an operator's resync request is looked for. Defaults to 1s.
	PollInterval time.Duration
	// ResyncInterval is the period of the full resync that repairs drift (±10 % jitter, so
	// replicas restarted together do not resync in lockstep). Defaults to 10m.
	ResyncInterval time.Duration
	// StepTimeout bounds one step's Observe and Apply, or its Delete. Defaults to 30s.
	StepTimeout time.Duration
	// LeaseDuration is how long a lease term is valid after its last renewal. Defaults to 15s.
	LeaseDuration time.Duration
	// LeaseRenew is how often the leader renews, how often a standby looks at the lease, and
	// the safety margin: a leader that could not renew stops its workers LeaseRenew before its
	// term would expire. Defaults to 5s; values >= LeaseDuration become LeaseDuration/3.
	LeaseRenew time.Duration
	// LeaseName names the lease (several controllers of different kinds could share a
	// database). Defaults to "platform-controller".
	LeaseName string
	// Identity is this replica's name in the lease document. Defaults to hostname-pid.
	Identity string
	// Logger receives the controller's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the controller's metrics; nil registers nothing (no global registry).
	Registerer prometheus.Registerer
	// BackoffInitial is the first retry delay of a failing tenant. Defaults to 1s.
	BackoffInitial time.Duration
	// BackoffMax caps a failing tenant's retry delay. Defaults to 5m.
	BackoffMax time.Duration
	// ResyncMode is ResyncList (the default: one listing per step, then only the tenants with
	// something to do are observed live) or ResyncPerTenant (every tenant observed live).
	ResyncMode string
	// ListTimeout bounds one step's listing at a resync. Defaults to 5m: a listing reads the
	// whole fleet's objects in pages at the upstream's request limit.
	ListTimeout time.Duration
	// OnReconcile, when set, is called after every reconcile (tests and benchmarks count
	// reconciles and measure reaction times with it). It must return quickly.
	OnReconcile func(ReconcileInfo)
}

// Resync modes (RESYNC_MODE).
const (
	ResyncList      = "list"
	ResyncPerTenant = "per-tenant"
)

// ReconcileInfo describes one finished reconcile, for Options.OnReconcile.
type ReconcileInfo struct {
	// TenantID and Slug identify the tenant (Slug is empty when the tenant was gone).
	TenantID bson.ObjectID
	Slug     string
	// Generation is the tenant's metadata.generation as read.
	Generation int64
	// Started is when the worker picked the tenant up; Duration how long the reconcile took.
	Started  time.Time
	Duration time.Duration
	// Result is what happened (Outcome* constants).
	Result Outcome
	// StepsRun is true when the steps' Observe (or Delete) ran.
	StepsRun bool
	// StatusWritten is true when the status document was written.
	StatusWritten bool
	// Err is the reconcile's own error (a store failure), nil otherwise; step failures are in
	// the status, not here.
	Err error
}

// withDefaults fills the zero fields.
func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.ResyncInterval <= 0 {
		o.ResyncInterval = 10 * time.Minute
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 30 * time.Second
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = 15 * time.Second
	}
	if o.LeaseRenew <= 0 {
		o.LeaseRenew = 5 * time.Second
	}
	if o.LeaseRenew >= o.LeaseDuration {
		o.LeaseRenew = o.LeaseDuration / 3
	}
	if o.LeaseName == "" {
		o.LeaseName = "platform-controller"
	}
	if o.Identity == "" {
		host, _ := os.Hostname()
		o.Identity = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.BackoffInitial <= 0 {
		o.BackoffInitial = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Minute
	}
	if o.ResyncMode == "" {
		o.ResyncMode = ResyncList
	}
	if o.ListTimeout <= 0 {
		o.ListTimeout = 5 * time.Minute
	}
	return o
}

// pollOverlap is how far behind the newest updatedAt seen the poll looks again. It covers a
// write whose updatedAt was taken before it became visible, and API replicas whose clocks
// differ by a few seconds. The API stamps updatedAt before it writes, and a write may take up
// to the API's request timeout (30s) to commit when the database is slow: the bounded-load
// drill saw creates commit 9-11s after their stamp, which a 5s overlap never saw again (those
// tenants waited for the next full resync, 10 minutes). Hence the request timeout plus 5s. On
// MongoDB the poll reads the updatedAt index, so the longer window costs a few more index
// entries; the seen map keeps them from being queued twice.
func (o Options) pollOverlap() time.Duration {
	return max(35*time.Second, 2*o.PollInterval)
}

// requestCheckInterval is how often an operator's resync request is looked for.
func (o Options) requestCheckInterval() time.Duration {
	return min(o.PollInterval, time.Second)
}
