package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
)

// keepEvents is how many events per tenant survive trimming (for `describe`).
const keepEvents = 50

// eventType is Normal or Warning, as in Kubernetes.
type eventType string

const (
	eventNormal  eventType = "Normal"
	eventWarning eventType = "Warning"
)

// eventReason names what an event records.
type eventReason string

// Event reasons.
const (
	// eventCreated: Apply created the step's object.
	eventCreated eventReason = "Created"
	// eventAdopted: Apply took over an unmarked object (or one found by its marker only).
	eventAdopted eventReason = "Adopted"
	// eventUpdated: Apply brought the upstream to a new generation of the spec.
	eventUpdated eventReason = "Updated"
	// eventDriftCorrected: Apply corrected what changed upstream behind the controller's back
	// (the spec did not change); its message names each field's want/got.
	eventDriftCorrected eventReason = "DriftCorrected"
	// eventDriftDetected: drift found and left alone (ObserveOnly).
	eventDriftDetected eventReason = "DriftDetected"
	// eventStepFailed: a step went into error (or failed in another way than before).
	eventStepFailed eventReason = "StepFailed"
	// eventStepRecovered: a step in error succeeded again.
	eventStepRecovered eventReason = "StepRecovered"
	// eventDeleted: a step's objects were torn down.
	eventDeleted eventReason = "Deleted"
)

// eventsOf turns one reconcile's outcomes into events: a failure (the owner-safe words as the
// message, the full error as the operator's detail), a recovery, whatever Apply did, and drift
// newly left alone. A stable reconcile produces none. Corrected drift is also counted in
// platform_drift_total{step,field}.
func (c *Controller) eventsOf(t *store.Tenant, prev, next *store.Status, outcomes []stepOutcome, now time.Time) []store.Event {
	gen := t.Metadata.Generation
	var evs []store.Event
	add := func(step string, typ eventType, reason eventReason, msg, detail string) {
		evs = append(evs, c.event(t, step, now, typ, reason, msg, detail))
	}
	for _, o := range outcomes {
		var before store.StepStatus
		if prev != nil {
			before = prev.Steps[o.name]
		}
		after := next.Steps[o.name]
		if o.err != nil {
			if before.State != store.StepError || before.Message != after.Message {
				add(o.name, eventWarning, eventStepFailed, after.Message, o.err.Error())
			}
			continue
		}
		if before.State == store.StepError {
			add(o.name, eventNormal, eventStepRecovered, o.name+" step recovered", "")
		}
		fields := driftText(o.obs.Drift)
		switch {
		case o.applied:
			reason := eventDriftCorrected
			switch {
			case o.res.Action == integrations.ActionCreated:
				reason = eventCreated
			case o.res.Action == integrations.ActionAdopted:
				reason = eventAdopted
			case before.ObservedGeneration != gen:
				reason = eventUpdated
			}
			if reason == eventDriftCorrected {
				for _, d := range o.obs.Drift {
					c.m.drift.WithLabelValues(o.name, d.Field).Inc()
				}
			}
			msg := actionText[reason]
			if reason != eventCreated {
				msg += ": " + fields
			}
			if o.res.Message != "" {
				msg += " (" + o.res.Message + ")"
			}
			add(o.name, eventNormal, reason, msg, o.res.ExternalID)
		case len(after.Drift) > 0 && !slices.Equal(before.Drift, after.Drift):
			add(o.name, eventWarning, eventDriftDetected, "drift left alone (observe only): "+fields, "")
		}
	}
	return evs
}

// event builds one event about t.
func (c *Controller) event(t *store.Tenant, step string, at time.Time, typ eventType, reason eventReason, msg, detail string) store.Event {
	return store.Event{ID: bson.NewObjectID(), TenantID: t.ID, Slug: t.Metadata.Slug, Time: at, Type: string(typ),
		Step: step, Reason: string(reason), Message: msg, Detail: detail, Generation: t.Metadata.Generation}
}

// actionText is how an event says what Apply did.
var actionText = map[eventReason]string{
	eventCreated:        "created",
	eventAdopted:        "adopted an existing object",
	eventUpdated:        "applied the spec change",
	eventDriftCorrected: "corrected drift",
}

// driftText renders drift as "quota (want X, got Y), name (want A, got B)".
func driftText(drift []integrations.Drift) string {
	parts := make([]string, len(drift))
	for i, d := range drift {
		parts[i] = fmt.Sprintf("%s (want %s, got %s)", d.Field, d.Want, d.Got)
	}
	return strings.Join(parts, ", ")
}

// recordEvents appends evs in one insert, then trims the tenant's events to the newest
// keepEvents. The trim is skipped on a tenant's first reconcile (first), which cannot have more
// events than steps.
func (c *Controller) recordEvents(ctx context.Context, tenantID bson.ObjectID, evs []store.Event, first bool) error {
	if len(evs) == 0 {
		return nil
	}
	if err := c.st.AppendEvents(ctx, evs); err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	if first {
		return nil
	}
	return c.st.TrimEvents(ctx, tenantID, keepEvents)
}
