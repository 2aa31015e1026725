package controller

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/store"
)

// keepEvents is how many events per tenant survive trimming (for `describe`).
const keepEvents = 50

// Event types.
const (
	eventNormal  = "Normal"
	eventWarning = "Warning"
)

// recordEvents appends one event per step whose state changed, or whose Ensure had to act
// upstream (created, updated, adopted: drift repaired), in one insert; then trims the
// tenant's events to the newest keepEvents. A stable reconcile produces no event and no write.
// The trim is skipped on a tenant's first reconcile, which cannot have more events than steps.
func (c *Controller) recordEvents(ctx context.Context, t *store.Tenant, prev, next *store.Status, outcomes []stepOutcome, now time.Time) error {
	var docs []any
	for _, o := range outcomes {
		before := ""
		if prev != nil {
			before = prev.Steps[o.name].State
		}
		after := next.Steps[o.name].State
		acted := o.err == nil && o.obs.Action != "" && o.obs.Action != integrations.ActionUnchanged
		if before == after && !acted {
			continue
		}
		ev := store.Event{ID: bson.NewObjectID(), TenantID: t.ID, Slug: t.Metadata.Slug, Time: now, Type: eventNormal, Step: o.name}
		switch {
		case o.err != nil:
			ev.Type, ev.Reason, ev.Message = eventWarning, "Failed", o.err.Error()
		case acted:
			ev.Reason = actionReason(o.obs.Action)
			ev.Message = fmt.Sprintf("%s %s", o.name, o.obs.Action)
			if o.obs.ExternalID != "" {
				ev.Message += " (" + o.obs.ExternalID + ")"
			}
		case o.obs.Skipped:
			ev.Reason, ev.Message = "Skipped", o.obs.Message
		default:
			ev.Reason, ev.Message = "Ready", o.obs.Message
		}
		if o.err == nil && o.obs.Message != "" && acted {
			ev.Message += ": " + o.obs.Message
		}
		docs = append(docs, ev)
	}
	if len(docs) == 0 {
		return nil
	}
	if _, err := c.st.Collection(store.CollEvents).InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	if prev == nil {
		return nil
	}
	return c.st.TrimEvents(ctx, t.ID, keepEvents)
}

func actionReason(a integrations.Action) string {
	switch a {
	case integrations.ActionCreated:
		return "Created"
	case integrations.ActionUpdated:
		return "Updated"
	case integrations.ActionAdopted:
		return "Adopted"
	case integrations.ActionDeleted:
		return "Deleted"
	default:
		return string(a)
	}
}
