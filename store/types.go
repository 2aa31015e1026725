package store

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Collection names (docs/ARCHITECTURE.md, "Data model").
const (
	CollTenants         = "tenants"
	CollTenantStatus    = "tenant_status"
	CollPartners        = "partners"
	CollMemberships     = "memberships"
	CollSubscriptions   = "subscriptions"
	CollEvents          = "events"
	CollLeases          = "leases"
	CollControllerState = "controller_state"
)

// Annotation keys (no dots: Mongo field paths split on them).
const (
	// AnnotationReconcileRequestedAt holds an RFC3339Nano token; a new value forces a reconcile.
	AnnotationReconcileRequestedAt = "reconcileRequestedAt"
	// AnnotationPaused = "true" makes the controller leave the tenant alone.
	AnnotationPaused = "paused"
	// AnnotationDriftCheckRequestedAt holds an RFC3339Nano token; a new value asks for a dry
	// run: every step observed, nothing written upstream, the result in status.lastDriftCheck.
	AnnotationDriftCheckRequestedAt = "driftCheckRequestedAt"
)

// Management policies (spec.managementPolicy).
const (
	// PolicyFull: the controller observes and corrects (the default).
	PolicyFull = "Full"
	// PolicyObserveOnly: the controller observes and reports drift, and never writes upstream,
	// not even to delete.
	PolicyObserveOnly = "ObserveOnly"
)

// Tenant is the desired-state document in `tenants`, written by the API (and an operator's
// hand) only.
type Tenant struct {
	ID       bson.ObjectID `bson:"_id" json:"-"`
	Metadata Metadata      `bson:"metadata" json:"metadata"`
	Spec     Spec          `bson:"spec" json:"spec"`
}

// Metadata is the bookkeeping of a tenant.
type Metadata struct {
	// Slug is the tenant's immutable, globally unique name.
	Slug string `bson:"slug" json:"slug"`
	// Generation is +1 on every spec change, never otherwise.
	Generation int64 `bson:"generation" json:"generation"`
	// ResourceVersion is +1 on every write to the document; the ETag.
	ResourceVersion int64     `bson:"resourceVersion" json:"resourceVersion"`
	CreatedAt       time.Time `bson:"createdAt" json:"createdAt"`
	UpdatedAt       time.Time `bson:"updatedAt" json:"updatedAt"`
	// DeletionRequestedAt is set by DELETE; the controller tears down, then removes the tenant.
	DeletionRequestedAt *time.Time `bson:"deletionRequestedAt" json:"deletionRequestedAt"`
	Annotations         StringMap  `bson:"annotations,omitempty" json:"annotations,omitempty"`
	Labels              StringMap  `bson:"labels,omitempty" json:"labels,omitempty"`
}

// Owner identifies the tenant's owner by OIDC subject and email.
type Owner struct {
	Sub   string `bson:"sub" json:"sub"`
	Email string `bson:"email" json:"email"`
}

// MailSpec asks for a mail domain; no domain means the Stalwart step is skipped.
type MailSpec struct {
	Domain string `bson:"domain" json:"domain"`
	// QuotaBytes overrides the plan's mail quota when > 0.
	QuotaBytes int64 `bson:"quotaBytes,omitempty" json:"quotaBytes,omitempty"`
}

// StorageSpec overrides the plan's file quota when QuotaBytes > 0.
type StorageSpec struct {
	QuotaBytes int64 `bson:"quotaBytes,omitempty" json:"quotaBytes,omitempty"`
}

// Spec is the desired state of a tenant.
type Spec struct {
	Name      string       `bson:"name" json:"name"`
	Plan      string       `bson:"plan" json:"plan"`
	PartnerID string       `bson:"partnerId,omitempty" json:"partnerId,omitempty"`
	Owner     Owner        `bson:"owner" json:"owner"`
	Suspended bool         `bson:"suspended" json:"suspended"`
	Mail      *MailSpec    `bson:"mail,omitempty" json:"mail,omitempty"`
	Storage   *StorageSpec `bson:"storage,omitempty" json:"storage,omitempty"`
	// ManagementPolicy is PolicyFull or PolicyObserveOnly; empty (documents written before the
	// field existed) means PolicyFull.
	ManagementPolicy string `bson:"managementPolicy,omitempty" json:"managementPolicy,omitempty"`
}

// Policy is the effective management policy: empty means Full.
func (s Spec) Policy() string {
	if s.ManagementPolicy == "" {
		return PolicyFull
	}
	return s.ManagementPolicy
}

// Phases of a tenant (docs/ARCHITECTURE.md, "Step states and phases").
const (
	PhasePending   = "Pending"
	PhaseActive    = "Active"
	PhaseDegraded  = "Degraded"
	PhaseSuspended = "Suspended"
	PhaseDeleting  = "Deleting"
)

// Step states (kept from the earlier Node service).
const (
	StepOK      = "ok"
	StepSkipped = "skipped"
	StepError   = "error"
	StepPending = "pending"
)

// Status is the observed-state document in `tenant_status` (_id = the tenant's _id), written
// only by the controller.
type Status struct {
	ID                     bson.ObjectID         `bson:"_id" json:"-"`
	Slug                   string                `bson:"slug" json:"-"`
	Phase                  string                `bson:"phase" json:"phase"`
	ObservedGeneration     int64                 `bson:"observedGeneration" json:"observedGeneration"`
	LastReconciledAt       *time.Time            `bson:"lastReconciledAt,omitempty" json:"lastReconciledAt,omitempty"`
	LastHandledReconcileAt string                `bson:"lastHandledReconcileAt,omitempty" json:"lastHandledReconcileAt,omitempty"`
	LeaderTerm             int64                 `bson:"leaderTerm" json:"leaderTerm"`
	Conditions             []Condition           `bson:"conditions" json:"conditions"`
	Steps                  map[string]StepStatus `bson:"steps" json:"steps"`
	// LastDriftCheck is the result of the newest dry-run drift check; nil before the first.
	LastDriftCheck *DriftCheck `bson:"lastDriftCheck,omitempty" json:"lastDriftCheck,omitempty"`
}

// Drift is one field that differs upstream from the desired state (want/got as text; got
// "missing" for an absent object).
type Drift struct {
	Field string `bson:"field" json:"field"`
	Want  string `bson:"want" json:"want"`
	Got   string `bson:"got" json:"got"`
}

// DriftCheck is the answer to one drift-check request: every step observed, nothing changed.
type DriftCheck struct {
	// Token echoes annotations.driftCheckRequestedAt exactly.
	Token     string    `bson:"token" json:"token"`
	CheckedAt time.Time `bson:"checkedAt" json:"checkedAt"`
	// InSync is true when no step reported drift or an error.
	InSync bool                      `bson:"inSync" json:"inSync"`
	Steps  map[string]StepDriftCheck `bson:"steps" json:"steps"`
}

// StepDriftCheck is one step's part of a drift check.
type StepDriftCheck struct {
	Exists bool    `bson:"exists" json:"exists"`
	Drift  []Drift `bson:"drift" json:"drift"`
	// Message says why the step could not be compared (an error) or what else it saw.
	Message string `bson:"message,omitempty" json:"message,omitempty"`
}

// Condition is a Kubernetes-style condition.
type Condition struct {
	Type               string    `bson:"type" json:"type"`
	Status             string    `bson:"status" json:"status"`
	Reason             string    `bson:"reason,omitempty" json:"reason,omitempty"`
	Message            string    `bson:"message,omitempty" json:"message,omitempty"`
	LastTransitionTime time.Time `bson:"lastTransitionTime" json:"lastTransitionTime"`
	ObservedGeneration int64     `bson:"observedGeneration" json:"observedGeneration"`
}

// StepStatus is what the controller observed for one integration step.
type StepStatus struct {
	State              string    `bson:"state" json:"state"`
	Message            string    `bson:"message,omitempty" json:"message,omitempty"`
	ExternalID         string    `bson:"externalId,omitempty" json:"externalId,omitempty"`
	ObservedGeneration int64     `bson:"observedGeneration" json:"observedGeneration"`
	LastTransitionTime time.Time `bson:"lastTransitionTime" json:"lastTransitionTime"`
	Attempts           int       `bson:"attempts" json:"attempts"`
	// Drift is what differed upstream after this step's last reconcile: empty once Apply
	// succeeded under Full, the differences found under ObserveOnly or after a failed Apply.
	Drift []Drift `bson:"drift,omitempty" json:"drift,omitempty"`
}

// StateAt is the step's state as seen by a reader of a tenant at generation gen: the stored
// state when the step was attempted for that generation, else pending (a step is pending
// before its first attempt for the current generation). The controller writes states; this is
// the one rule for reading them while a newer generation waits for its reconcile.
func (s StepStatus) StateAt(gen int64) string {
	if s.ObservedGeneration < gen {
		return StepPending
	}
	return s.State
}

// Partner is a reseller.
type Partner struct {
	ID              bson.ObjectID `bson:"_id" json:"-"`
	Slug            string        `bson:"slug" json:"slug"`
	Name            string        `bson:"name" json:"name"`
	Contact         string        `bson:"contact" json:"contact"`
	Status          string        `bson:"status" json:"status"`
	ResourceVersion int64         `bson:"resourceVersion" json:"resourceVersion"`
	CreatedAt       time.Time     `bson:"createdAt" json:"createdAt"`
	UpdatedAt       time.Time     `bson:"updatedAt" json:"updatedAt"`
}

// Partner statuses.
const (
	PartnerActive    = "active"
	PartnerSuspended = "suspended"
)

// Roles of a membership.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Membership grants a subject a role in a tenant.
type Membership struct {
	ID         bson.ObjectID `bson:"_id" json:"-"`
	TenantSlug string        `bson:"tenantSlug" json:"tenantSlug"`
	TenantID   bson.ObjectID `bson:"tenantId" json:"-"`
	Subject    string        `bson:"subject" json:"subject"`
	Email      string        `bson:"email,omitempty" json:"email,omitempty"`
	Role       string        `bson:"role" json:"role"`
	CreatedAt  time.Time     `bson:"createdAt" json:"createdAt"`
}

// Subscription is a tenant's plan subscription.
type Subscription struct {
	ID         bson.ObjectID `bson:"_id" json:"-"`
	TenantSlug string        `bson:"tenantSlug" json:"tenantSlug"`
	TenantID   bson.ObjectID `bson:"tenantId" json:"-"`
	Plan       string        `bson:"plan" json:"plan"`
	Status     string        `bson:"status" json:"status"`
	Seats      int           `bson:"seats" json:"seats"`
	PeriodEnd  time.Time     `bson:"periodEnd" json:"periodEnd"`
	UpdatedAt  time.Time     `bson:"updatedAt" json:"updatedAt"`
}

// Event is one reconcile event kept for `describe` (the controller trims to the newest ones).
type Event struct {
	ID       bson.ObjectID `bson:"_id" json:"-"`
	TenantID bson.ObjectID `bson:"tenantId" json:"-"`
	Slug     string        `bson:"slug" json:"slug"`
	Time     time.Time     `bson:"time" json:"time"`
	Type     string        `bson:"type" json:"type"` // Normal | Warning
	Step     string        `bson:"step,omitempty" json:"step,omitempty"`
	Reason   string        `bson:"reason" json:"reason"`
	// Message is safe for anyone who may read the tenant (no address, URL or raw upstream text).
	Message string `bson:"message,omitempty" json:"message,omitempty"`
	// Detail is the full error or what exactly changed, for operators only.
	Detail string `bson:"detail,omitempty" json:"detail,omitempty"`
	// Generation is the tenant's metadata.generation the event is about.
	Generation int64 `bson:"generation" json:"generation"`
}
