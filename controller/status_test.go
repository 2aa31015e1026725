package controller

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
)

// TestSummarise: the phase and step states docs/ARCHITECTURE.md promises, from one reconcile's
// outcomes and the stored status before it.
func TestSummarise(t *testing.T) {
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	earlier := now.Add(-time.Hour)
	ok := func(name string) stepOutcome {
		return stepOutcome{name: name, observed: true, obs: integrations.Observation{Exists: true, ExternalID: name + "-id", Owner: integrations.Ours}}
	}
	skipped := func(name string) stepOutcome {
		return stepOutcome{name: name, observed: true, obs: integrations.Observation{Skipped: true, Message: "no mail domain"}}
	}
	failed := func(name string) stepOutcome { return stepOutcome{name: name, err: errors.New("upstream says no")} }
	stored := func(phase string, states map[string]string, attempts int) *store.Status {
		st := &store.Status{Phase: phase, ObservedGeneration: 1, Steps: map[string]store.StepStatus{}}
		for n, s := range states {
			st.Steps[n] = store.StepStatus{State: s, ExternalID: n + "-id", ObservedGeneration: 1, Attempts: attempts, LastTransitionTime: earlier}
		}
		return st
	}
	allOK := map[string]string{"authentik": store.StepOK, "stalwart": store.StepOK, "ocis": store.StepOK}

	type want struct {
		phase    string
		ready    string
		states   map[string]string
		attempts map[string]int
	}
	cases := map[string]struct {
		reason    string
		prev      *store.Status
		suspended bool
		outcomes  []stepOutcome
		want      want
	}{
		"FirstSuccess": {
			reason:   "a new tenant whose steps all succeed is Active, each step ok after one attempt",
			outcomes: []stepOutcome{ok("authentik"), ok("stalwart"), ok("ocis")},
			want: want{phase: store.PhaseActive, ready: condTrue, states: allOK,
				attempts: map[string]int{"authentik": 1, "stalwart": 1, "ocis": 1}},
		},
		"SkippedCountsAsDone": {
			reason:   "a step that does not apply (no mail domain) is skipped, and the tenant Active",
			outcomes: []stepOutcome{ok("authentik"), skipped("stalwart"), ok("ocis")},
			want: want{phase: store.PhaseActive, ready: condTrue,
				states:   map[string]string{"authentik": store.StepOK, "stalwart": store.StepSkipped, "ocis": store.StepOK},
				attempts: map[string]int{"authentik": 1, "stalwart": 1, "ocis": 1}},
		},
		"NeverActiveStaysPending": {
			reason:   "Pending until the tenant was first Active, even with a failing step",
			outcomes: []stepOutcome{ok("authentik"), failed("stalwart"), ok("ocis")},
			want: want{phase: store.PhasePending, ready: condFalse,
				states:   map[string]string{"authentik": store.StepOK, "stalwart": store.StepError, "ocis": store.StepOK},
				attempts: map[string]int{"authentik": 1, "stalwart": 1, "ocis": 1}},
		},
		"ActiveThenFailureIsDegraded": {
			reason:   "an Active tenant whose step later fails is Degraded",
			prev:     stored(store.PhaseActive, allOK, 1),
			outcomes: []stepOutcome{ok("authentik"), ok("stalwart"), failed("ocis")},
			want: want{phase: store.PhaseDegraded, ready: condFalse,
				states:   map[string]string{"authentik": store.StepOK, "stalwart": store.StepOK, "ocis": store.StepError},
				attempts: map[string]int{"authentik": 1, "stalwart": 1, "ocis": 1}},
		},
		"RetriesCountAttempts": {
			reason: "attempts counts the tries since the last success while the step keeps failing",
			prev: stored(store.PhaseDegraded, map[string]string{
				"authentik": store.StepOK, "stalwart": store.StepOK, "ocis": store.StepError}, 3),
			outcomes: []stepOutcome{ok("authentik"), ok("stalwart"), failed("ocis")},
			want: want{phase: store.PhaseDegraded, ready: condFalse,
				states:   map[string]string{"authentik": store.StepOK, "stalwart": store.StepOK, "ocis": store.StepError},
				attempts: map[string]int{"authentik": 3, "stalwart": 3, "ocis": 4}},
		},
		"SuspendedOnceApplied": {
			reason:    "spec.suspended is Suspended once every step applied it",
			prev:      stored(store.PhaseActive, allOK, 1),
			suspended: true,
			outcomes:  []stepOutcome{ok("authentik"), skipped("stalwart"), ok("ocis")},
			want: want{phase: store.PhaseSuspended, ready: condTrue,
				states:   map[string]string{"authentik": store.StepOK, "stalwart": store.StepSkipped, "ocis": store.StepOK},
				attempts: map[string]int{"authentik": 1, "stalwart": 1, "ocis": 1}},
		},
		"SuspensionNotAppliedYet": {
			reason:    "a suspension a step could not apply is not Suspended",
			prev:      stored(store.PhaseActive, allOK, 1),
			suspended: true,
			outcomes:  []stepOutcome{ok("authentik"), ok("stalwart"), failed("ocis")},
			want: want{phase: store.PhaseDegraded, ready: condFalse,
				states:   map[string]string{"authentik": store.StepOK, "stalwart": store.StepOK, "ocis": store.StepError},
				attempts: map[string]int{"authentik": 1, "stalwart": 1, "ocis": 1}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := &Controller{}
			for _, n := range []string{"authentik", "stalwart", "ocis"} {
				c.steps = append(c.steps, newFakeStep(n))
			}
			tn := &store.Tenant{ID: bson.NewObjectID(), Metadata: store.Metadata{Slug: "acme", Generation: 1}}
			tn.Spec.Suspended = tc.suspended
			if tc.prev != nil {
				tc.prev.ID, tc.prev.Slug = tn.ID, "acme"
			}
			next := c.baseStatus(tn, tc.prev, now)
			for _, o := range tc.outcomes {
				applyOutcome(next, o, 1, now)
			}
			c.summarise(next, tn, tc.prev, now)
			got := want{phase: next.Phase, states: stepStates(next), attempts: map[string]int{}}
			if r := findCondition(next.Conditions, condReady); r != nil {
				got.ready = r.Status
			}
			for n, s := range next.Steps {
				got.attempts[n] = s.Attempts
				if s.ObservedGeneration != 1 {
					t.Errorf("%s: step %s observedGeneration %d, want 1", tc.reason, n, s.ObservedGeneration)
				}
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s: (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestStableResyncWritesNothing: the same outcomes again leave the status equal (no write):
// attempts, messages and transition times untouched.
func TestStableResyncWritesNothing(t *testing.T) {
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	c := &Controller{}
	for _, n := range []string{"authentik", "stalwart", "ocis"} {
		c.steps = append(c.steps, newFakeStep(n))
	}
	tn := &store.Tenant{ID: bson.NewObjectID(), Metadata: store.Metadata{Slug: "acme", Generation: 1,
		Annotations: map[string]string{store.AnnotationReconcileRequestedAt: "2026-11-28T08:00:00.5Z"}}}
	missing := integrations.Observation{Drift: []integrations.Drift{{Field: "x", Want: "y", Got: integrations.Missing}}}
	outcomes := []stepOutcome{
		{name: "authentik", observed: true, obs: missing, applied: true, res: integrations.Observed{ExternalID: "a", Action: integrations.ActionCreated}},
		{name: "stalwart", observed: true, obs: integrations.Observation{Skipped: true, Message: "no mail domain"}},
		{name: "ocis", observed: true, obs: missing, applied: true, res: integrations.Observed{ExternalID: "o", Action: integrations.ActionCreated}},
	}
	run := func(prev *store.Status, at time.Time) *store.Status {
		next := c.baseStatus(tn, prev, at)
		for _, o := range outcomes {
			applyOutcome(next, o, 1, at)
		}
		c.summarise(next, tn, prev, at)
		return next
	}
	first := run(nil, now)
	if first.LastHandledReconcileAt != "2026-11-28T08:00:00.5Z" {
		t.Errorf("lastHandledReconcileAt %q, want the annotation's string exactly", first.LastHandledReconcileAt)
	}
	inSync := func(id string) integrations.Observation {
		return integrations.Observation{Exists: true, ExternalID: id, Owner: integrations.Ours}
	}
	outcomes[0] = stepOutcome{name: "authentik", observed: true, obs: inSync("a")}
	outcomes[2] = stepOutcome{name: "ocis", observed: true, obs: inSync("o")}
	second := run(first, now.Add(time.Minute))
	if !sameStatus(first, second) {
		t.Errorf("a stable reconcile changed the status (-first +second):\n%s", cmp.Diff(first, second))
	}
}
