package controller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// TestReadiness: starting → not ready; leader and standby → ready with their role; the leader
// names its change source.
func TestReadiness(t *testing.T) {
	e := newEnv(t)
	c := New(e.st, e.integrationSteps(), e.opts)
	ready, d := c.Readiness()
	if ready || d["controller"] != RoleStarting {
		t.Errorf("before Run: ready=%v %v", ready, d)
	}
	e.c = c
	runController(t, c)
	eventually(t, 10*time.Second, "leader", func() bool {
		_, d := c.Readiness()
		return d["controller"] == RoleLeader
	})
	ready, d = c.Readiness()
	want := map[string]string{"controller": RoleLeader, "source": SourcePoll}
	if storetest.Shared(t).ChangeStreams {
		want["source"] = SourceChangeStream
	}
	if diff := cmp.Diff(want, d); !ready || diff != "" {
		t.Errorf("leader: ready=%v (-want +got):\n%s", ready, diff)
	}

	other := New(storetest.NewStoreWith(t, storetest.Options{Database: e.st.DatabaseName()}), e.integrationSteps(), e.opts)
	runController(t, other)
	eventually(t, 10*time.Second, "standby ready", func() bool {
		ready, d := other.Readiness()
		return ready && d["controller"] == RoleStandby
	})
}

// TestMetrics: every metric of docs/ARCHITECTURE.md ("Controller metrics") (and the source gauge) is registered on the given
// registry and moves.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(o *Options) { o.Registerer = reg })
	e.start()
	tn := e.createTenant("metrics")
	e.waitPhase(tn.ID, store.PhaseActive)
	eventually(t, 10*time.Second, "reconcile counted", func() bool {
		return gauge(t, reg, "platform_reconcile_total", map[string]string{"result": resultSuccess}) >= 1
	})
	checks := []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"platform_reconcile_total", map[string]string{"result": "success"}, 1},
		{"platform_reconcile_duration_seconds", nil, 1}, // sample count
		{"platform_step_total", map[string]string{"step": "ocis", "state": "ok"}, 1},
		{"platform_workqueue_depth", nil, 0},
		{"platform_workqueue_retries_total", nil, 0},
		{"platform_watch_restarts_total", nil, 0},
		{"platform_resync_last_timestamp_seconds", nil, float64(time.Now().Add(-time.Hour).Unix())},
		{"platform_leader", nil, 1},
		{"platform_watch_source", map[string]string{"source": SourcePoll}, 1},
	}
	for _, c := range checks {
		if v := gauge(t, reg, c.name, c.labels); v < c.min {
			t.Errorf("%s%v = %v, want >= %v", c.name, c.labels, v, c.min)
		}
	}
}

// gauge returns the value (a histogram's sample count) of the series of name with labels,
// -1 when absent.
func gauge(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			matched := 0
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v == lp.GetValue() {
					matched++
				}
			}
			if matched != len(labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return -1
}
