package controller

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dezky/platform-api/integrations"
)

// Metric names (docs/ARCHITECTURE.md, "Controller metrics").
const metricPrefix = "platform_"

// metrics are the controller's Prometheus collectors. They always exist (so code paths do not
// branch on them) and are registered only when Options.Registerer is set.
type metrics struct {
	reconciles    *prometheus.CounterVec
	duration      prometheus.Histogram
	steps         *prometheus.CounterVec
	depth         prometheus.GaugeFunc
	retries       prometheus.Counter
	watchRestarts prometheus.Counter
	resyncLast    prometheus.Gauge
	leader        prometheus.Gauge
	source        *prometheus.GaugeVec
	drift         *prometheus.CounterVec
	tenants       *prometheus.GaugeVec
	// snapshotFailures counts listings that failed at a resync (the step fell back to
	// observing its tenants one by one).
	snapshotFailures *prometheus.CounterVec
}

// Reconcile results, the values of platform_reconcile_total{result}.
const (
	resultSuccess   = "success"    // every step ok|skipped, or nothing to do
	resultStepError = "step_error" // a step failed; recorded in the status
	resultError     = "error"      // the reconcile itself failed (store)
)

func newMetrics(depth func() float64) *metrics {
	return &metrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "reconcile_total",
			Help: "Reconciles by result: success, step_error (recorded in the status), error (store failure).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    metricPrefix + "reconcile_duration_seconds",
			Help:    "Duration of one tenant reconcile, reads and upstream calls included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12), // 1ms .. ~60s
		}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "step_total",
			Help: "Step runs (Observe, then Apply where allowed; or Delete) by step and resulting state.",
		}, []string{"step", "state"}),
		depth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: metricPrefix + "workqueue_depth",
			Help: "Tenants waiting in the work queue (both priorities; delayed retries excluded).",
		}, depth),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricPrefix + "workqueue_retries_total",
			Help: "Tenants requeued with backoff after a failure.",
		}),
		watchRestarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricPrefix + "watch_restarts_total",
			Help: "Times the change stream was reopened after an error, an invalidate or lost history.",
		}),
		resyncLast: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricPrefix + "resync_last_timestamp_seconds",
			Help: "Unix time at which the last full resync finished enqueueing every tenant.",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: metricPrefix + "leader",
			Help: "1 while this replica holds the controller lease and runs the controller.",
		}),
		source: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricPrefix + "watch_source",
			Help: "1 for the active change source: changestream, or poll where the server has no change streams.",
		}, []string{"source"}),
		drift: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "drift_total",
			Help: "Drifted fields found upstream and corrected (the spec had not changed), by step and field.",
		}, []string{"step", "field"}),
		snapshotFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricPrefix + "resync_listing_failures_total",
			Help: "Upstream listings that failed at a resync; that step's tenants were observed one by one instead.",
		}, []string{"step"}),
		tenants: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metricPrefix + "tenants",
			Help: "Tenants by phase, counted by the leader at its last full resync.",
		}, []string{"phase"}),
	}
}

// initDrift creates the drift series of every step's documented fields at zero, so rate() and
// alerts see them before the first correction.
func (m *metrics) initDrift(steps []string) {
	for _, s := range steps {
		for _, f := range integrations.DriftFields(s) {
			m.drift.WithLabelValues(s, f)
		}
		m.snapshotFailures.WithLabelValues(s)
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.reconciles, m.duration, m.steps, m.depth, m.retries,
		m.watchRestarts, m.resyncLast, m.leader, m.source, m.drift, m.tenants, m.snapshotFailures}
}

// register adds every collector to r; one already registered is reported, not fatal (a
// process that builds two controllers on one registry keeps the first one's series).
func (m *metrics) register(r prometheus.Registerer) error {
	if r == nil {
		return nil
	}
	var first error
	for _, c := range m.collectors() {
		if err := r.Register(c); err != nil && first == nil {
			first = err
		}
	}
	return first
}
