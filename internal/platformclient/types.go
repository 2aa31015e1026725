package platformclient

import (
	"encoding/json"
	"time"
)

// Tenant is the API's one view of a tenant: desired state (metadata, spec) merged with what the
// controller observed (status).
type Tenant struct {
	Metadata Metadata `json:"metadata"`
	Spec     Spec     `json:"spec"`
	Status   Status   `json:"status"`

	// Raw is the tenant exactly as the server sent it.
	Raw json.RawMessage `json:"-"`
}

// Metadata is a tenant's identity and bookkeeping.
type Metadata struct {
	UID                 string            `json:"uid"`
	Slug                string            `json:"slug"`
	Generation          int64             `json:"generation"`
	ResourceVersion     int64             `json:"resourceVersion"`
	CreatedAt           time.Time         `json:"createdAt"`
	UpdatedAt           time.Time         `json:"updatedAt"`
	DeletionRequestedAt *time.Time        `json:"deletionRequestedAt"`
	Annotations         map[string]string `json:"annotations"`
	Labels              map[string]string `json:"labels"`
}

// Spec is a tenant's desired state.
type Spec struct {
	Name             string   `json:"name"`
	Plan             string   `json:"plan"`
	PartnerID        *string  `json:"partnerId"`
	Owner            Owner    `json:"owner"`
	Suspended        bool     `json:"suspended"`
	Mail             *Mail    `json:"mail"`
	Storage          *Storage `json:"storage"`
	ManagementPolicy string   `json:"managementPolicy"`
}

// Owner is the subject that created the tenant.
type Owner struct {
	Sub   string `json:"sub"`
	Email string `json:"email"`
}

// Mail asks for a mail domain; QuotaBytes > 0 overrides the plan's mail quota.
type Mail struct {
	Domain     string `json:"domain"`
	QuotaBytes int64  `json:"quotaBytes,omitempty"`
}

// Storage overrides the plan's file quota when QuotaBytes > 0.
type Storage struct {
	QuotaBytes int64 `json:"quotaBytes,omitempty"`
}

// Status is what the controller observed.
type Status struct {
	Phase                  string                `json:"phase"`
	ObservedGeneration     int64                 `json:"observedGeneration"`
	LastReconciledAt       *time.Time            `json:"lastReconciledAt"`
	LastHandledReconcileAt *string               `json:"lastHandledReconcileAt"`
	Conditions             []Condition           `json:"conditions"`
	Steps                  map[string]StepStatus `json:"steps"`
	LastDriftCheck         *DriftCheck           `json:"lastDriftCheck"`
}

// Condition is a Kubernetes-style condition (Ready, Synced, Paused).
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason"`
	Message            string    `json:"message"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
	ObservedGeneration int64     `json:"observedGeneration"`
}

// Condition returns the condition of type typ, or nil.
func (s Status) Condition(typ string) *Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == typ {
			return &s.Conditions[i]
		}
	}
	return nil
}

// Ready reports whether the Ready condition is True.
func (s Status) Ready() bool {
	c := s.Condition("Ready")
	return c != nil && c.Status == "True"
}

// StepStatus is one integration step (authentik, stalwart, ocis) as last observed.
type StepStatus struct {
	State              string     `json:"state"`
	Message            string     `json:"message"`
	ExternalID         string     `json:"externalId"`
	ObservedGeneration int64      `json:"observedGeneration"`
	LastTransitionTime *time.Time `json:"lastTransitionTime"`
	Attempts           int        `json:"attempts"`
	Drift              []Drift    `json:"drift"`
}

// Drift is one field that differs upstream from the desired state.
type Drift struct {
	Field string `json:"field"`
	Want  string `json:"want"`
	Got   string `json:"got"`
}

// DriftCheck is the answer to a drift check: every step observed, nothing written upstream.
type DriftCheck struct {
	Token     string                    `json:"token"`
	CheckedAt time.Time                 `json:"checkedAt"`
	InSync    bool                      `json:"inSync"`
	Steps     map[string]StepDriftCheck `json:"steps"`

	// Raw is the check exactly as the server sent it (set on DriftCheck's answer only).
	Raw json.RawMessage `json:"-"`
}

// StepDriftCheck is one step's part of a drift check.
type StepDriftCheck struct {
	Exists  bool    `json:"exists"`
	Drift   []Drift `json:"drift"`
	Message string  `json:"message"`
}

// Event is one recorded event of a tenant's history.
type Event struct {
	Time       time.Time `json:"time"`
	Type       string    `json:"type"`
	Reason     string    `json:"reason"`
	Step       string    `json:"step"`
	Message    string    `json:"message"`
	Generation int64     `json:"generation"`
	// Detail (the full error or an upstream id) is sent to operators only.
	Detail string `json:"detail"`
}

// Partner is a reseller.
type Partner struct {
	Slug            string    `json:"slug"`
	Name            string    `json:"name"`
	Contact         string    `json:"contact"`
	Status          string    `json:"status"`
	ResourceVersion int64     `json:"resourceVersion"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`

	// Raw is the partner exactly as the server sent it.
	Raw json.RawMessage `json:"-"`
}

// Health is GET /health.
type Health struct {
	Status  string `json:"status"`
	Service string `json:"service"`
	Version string `json:"version"`
}

// CreateTenant is the flat body of POST /tenants. Zero values are left out, so the server's
// defaults apply (plan starter, policy Full).
type CreateTenant struct {
	Slug             string   `json:"slug"`
	Name             string   `json:"name"`
	Plan             string   `json:"plan,omitempty"`
	PartnerID        string   `json:"partnerId,omitempty"`
	Mail             *Mail    `json:"mail,omitempty"`
	Storage          *Storage `json:"storage,omitempty"`
	ManagementPolicy string   `json:"managementPolicy,omitempty"`
}
