package store

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Collection names (DESIGN §4).
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
}

// Phases of a tenant (DESIGN §4).
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
	Message  string        `bson:"message,omitempty" json:"message,omitempty"`
}
