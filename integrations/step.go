package integrations

import (
	"context"
	"strconv"
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

// OwnerOfText reads the marker in a free-text field: Ours when it names tenantID, Foreign when
// it names another tenant, Unmarked when there is none.
func OwnerOfText(text, tenantID string) Owner {
	owner, found := MarkerOwner(text)
	switch {
	case !found:
		return Unmarked
	case strings.EqualFold(owner, tenantID):
		return Ours
	default:
		return Foreign
	}
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

// Owner says whose an observed upstream object is, read from its marker.
type Owner int

// Owners. The zero value means nothing was found to own.
const (
	// NoOwner: there is no object (Observation.Exists is false).
	NoOwner Owner = iota
	// Ours: the object carries this tenant's marker.
	Ours
	// Unmarked: the object carries no dezky marker; Apply adopts it by writing the marker.
	Unmarked
	// Foreign: the object carries another tenant's marker; it is never touched.
	Foreign
)

func (o Owner) String() string {
	switch o {
	case Ours:
		return "ours"
	case Unmarked:
		return "unmarked"
	case Foreign:
		return "foreign"
	default:
		return "none"
	}
}

// Missing is Drift.Got for an object that does not exist upstream.
const Missing = "missing"

// Drift is one field whose upstream value differs from the desired one. Field names are stable
// and documented per step (docs/ARCHITECTURE.md, "Drift fields"); Want and Got are the values as
// text, Got "missing" when the object itself is absent.
type Drift struct {
	Field string
	Want  string
	Got   string
}

// Observation is what Observe found upstream: read only, nothing changed.
type Observation struct {
	// Exists is true when the step's main object was found (by recorded id, deterministic name
	// or marker).
	Exists bool
	// ExternalID is the upstream's own id of the main object, when it exists.
	ExternalID string
	// Owner is whose the main object is (NoOwner when it does not exist).
	Owner Owner
	// Drift lists what differs from the desired state; empty means up to date. A missing object
	// is one entry with Got "missing".
	Drift []Drift
	// Skipped is true when the step does not apply (upstream not configured, no mail domain).
	Skipped bool
	// Message is a short note for people (e.g. "owner not found in authentik"); it must be safe
	// to show a tenant owner: no URL, address or raw upstream text.
	Message string
	// Object is the step's own record of what it read (unexported types of the step's package),
	// handed back to Apply so it need not read again. Nil means Apply reads for itself.
	Object any
}

// InSync reports whether nothing differs.
func (o Observation) InSync() bool { return len(o.Drift) == 0 }

// Action says what an Apply or Delete did upstream, so the controller can record events.
type Action string

// Actions a step reports.
const (
	ActionUnchanged Action = "unchanged"
	ActionCreated   Action = "created"
	ActionUpdated   Action = "updated"
	ActionAdopted   Action = "adopted"
	ActionDeleted   Action = "deleted"
)

// Observed is what a step reports after Apply.
type Observed struct {
	// ExternalID is the upstream's own id for the step's main object (Authentik group pk,
	// Stalwart domain id, oCIS drive id); recorded in steps.<name>.externalId.
	ExternalID string
	// Action is the most significant thing Apply did.
	Action Action
	// Message is a short owner-safe note; empty when all is well.
	Message string
}

// Step drives one upstream toward a Desired value, in crossplane-runtime's vocabulary: Observe
// reads and compares, Apply creates, adopts or corrects, Delete tears down. Implementations are
// safe for concurrent use by several workers, every call idempotent.
type Step interface {
	// Name is the key in status.steps (authentik, stalwart, ocis).
	Name() string
	// Observe finds the step's objects and reports how they differ from d. It never writes
	// upstream, whatever it finds (a missing object, a foreign marker).
	Observe(ctx context.Context, d Desired) (Observation, error)
	// Apply brings the upstream to d, starting from o (a fresh Observe of d). It creates what
	// is missing, adopts an unmarked object by writing the marker, corrects what drifted, and
	// never creates a second object when retried after a lost response. An object carrying
	// another tenant's marker is refused with a permanent error.
	Apply(ctx context.Context, d Desired, o Observation) (Observed, error)
	// Delete tears the step's objects down. An object already gone is success, and so is one
	// that is not ours (another tenant's marker, or none where ours was expected): it is left
	// untouched, so a foreign object can never keep a tenant from being deleted.
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

// Observe implements Step: nothing to look at.
func (s Skipped) Observe(context.Context, Desired) (Observation, error) {
	return Observation{Skipped: true, Message: s.Reason}, nil
}

// Apply implements Step: nothing to do.
func (s Skipped) Apply(context.Context, Desired, Observation) (Observed, error) {
	return Observed{Action: ActionUnchanged, Message: s.Reason}, nil
}

// Delete implements Step: nothing to tear down.
func (s Skipped) Delete(context.Context, Desired) error { return nil }

// DriftBuilder collects drift entries with their values rendered as text.
type DriftBuilder []Drift

// Add records field as drifted from want to got.
func (b *DriftBuilder) Add(field, want, got string) {
	*b = append(*b, Drift{Field: field, Want: want, Got: got})
}

// Bool records a boolean field when want and got differ.
func (b *DriftBuilder) Bool(field string, want, got bool) {
	if want != got {
		b.Add(field, strconv.FormatBool(want), strconv.FormatBool(got))
	}
}

// Int records an integer field when want and got differ; a zero got is shown as "none".
func (b *DriftBuilder) Int(field string, want, got int64) {
	if want == got {
		return
	}
	g := "none"
	if got != 0 {
		g = strconv.FormatInt(got, 10)
	}
	b.Add(field, strconv.FormatInt(want, 10), g)
}

// String records a text field when want and got differ.
func (b *DriftBuilder) String(field, want, got string) {
	if want != got {
		b.Add(field, want, got)
	}
}
