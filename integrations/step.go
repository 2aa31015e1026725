package integrations

import (
	"context"
	"strings"
)

// MarkerPrefix starts every marker this service writes into an upstream object's free-text field
// (Authentik group attribute dezkyTenantId, Stalwart description, oCIS space description). Any
// object whose field starts with it belongs to some dezky tenant.
const MarkerPrefix = "dezky:tenant:"

// Marker is the ownership marker of one tenant: "dezky:tenant:<metadata.uid>".
func Marker(tenantID string) string { return MarkerPrefix + tenantID }

// MarkerOwner returns the tenant id carried by a marker found somewhere inside text (a description
// may hold more than the marker) and whether a marker was found at all.
func MarkerOwner(text string) (tenantID string, found bool) {
	i := strings.Index(text, MarkerPrefix)
	if i < 0 {
		return "", false
	}
	rest := text[i+len(MarkerPrefix):]
	end := strings.IndexFunc(rest, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F')
	})
	if end >= 0 {
		rest = rest[:end]
	}
	return rest, true
}

// Desired is what one tenant wants from the upstreams, already resolved by the controller (plan
// quotas applied, owner looked up). Steps take it by value and never see a store document.
type Desired struct {
	// TenantID is the tenant's metadata.uid (hex ObjectId); it goes into every marker.
	TenantID string
	// Slug is the tenant's immutable slug; upstream names derive from it.
	Slug string
	// Name is the display name (spec.name).
	Name string
	// Plan is the plan name (starter, standard, business).
	Plan string
	// OwnerSub and OwnerEmail identify the owner; Authentik finds the user by email.
	OwnerSub   string
	OwnerEmail string
	// Suspended mirrors spec.suspended.
	Suspended bool
	// MailDomain is spec.mail.domain; empty means the mail step is skipped.
	MailDomain string
	// MailQuotaBytes and StorageQuotaBytes are the effective quotas (plan unless overridden).
	MailQuotaBytes    int64
	StorageQuotaBytes int64
	// ExternalID is the id this step recorded last time (status.steps.<name>.externalId), the
	// first place a step looks for its object. Empty on the first reconcile.
	ExternalID string
}

// Action says what an Ensure or Delete did upstream, so the controller can record events.
type Action string

// Actions a step reports.
const (
	ActionUnchanged Action = "unchanged"
	ActionCreated   Action = "created"
	ActionUpdated   Action = "updated"
	ActionAdopted   Action = "adopted"
	ActionDeleted   Action = "deleted"
)

// Observed is what a step saw after Ensure.
type Observed struct {
	// ExternalID is the upstream's own id for the step's main object (Authentik group pk,
	// Stalwart domain id, oCIS drive id); recorded in steps.<name>.externalId.
	ExternalID string
	// Action is what Ensure had to do.
	Action Action
	// Skipped is true when the step does not apply (upstream not configured, no mail domain).
	Skipped bool
	// Message is a short human note (e.g. "owner not found in authentik"); empty when all is well.
	Message string
}

// Step drives one upstream toward a Desired value. Implementations are safe for concurrent use
// by several workers, each call idempotent.
type Step interface {
	// Name is the key in status.steps (authentik, stalwart, ocis).
	Name() string
	// Ensure finds, creates or corrects the step's objects and reports what it saw. It never
	// creates a second object when retried after a lost response.
	Ensure(ctx context.Context, d Desired) (Observed, error)
	// Delete tears the step's objects down; an object already gone is success.
	Delete(ctx context.Context, d Desired) error
}

// Skipped is a Step for an upstream that is not configured: it always reports skipped.
type Skipped struct {
	// StepName is the name reported by Name.
	StepName string
	// Reason is recorded as the step's message.
	Reason string
}

// Name implements Step.
func (s Skipped) Name() string { return s.StepName }

// Ensure implements Step: nothing to do.
func (s Skipped) Ensure(context.Context, Desired) (Observed, error) {
	return Observed{Skipped: true, Action: ActionUnchanged, Message: s.Reason}, nil
}

// Delete implements Step: nothing to tear down.
func (s Skipped) Delete(context.Context, Desired) error { return nil }
