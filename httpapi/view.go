package httpapi

import (
	"strconv"
	"time"

	"github.com/dezky/platform-api/store"
)

// tenantView is the one JSON shape of a tenant everywhere: desired state and observed state
// merged (docs/ARCHITECTURE.md, "Data model"). Empty maps and lists
// are sent as {} and [], absent times as null, so clients never special-case a missing key.
type tenantView struct {
	Metadata metadataView `json:"metadata"`
	Spec     specView     `json:"spec"`
	Status   statusView   `json:"status"`
	// ProvisioningStatus and ProvisioningErrors repeat the step states and the failing steps'
	// messages in the shape the earlier Node service answered, which the portal still reads.
	ProvisioningStatus map[string]string `json:"provisioningStatus"`
	ProvisioningErrors map[string]string `json:"provisioningErrors"`
}

type metadataView struct {
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

type specView struct {
	Name             string             `json:"name"`
	Plan             string             `json:"plan"`
	PartnerID        *string            `json:"partnerId"`
	Owner            store.Owner        `json:"owner"`
	Suspended        bool               `json:"suspended"`
	Mail             *store.MailSpec    `json:"mail"`
	Storage          *store.StorageSpec `json:"storage"`
	ManagementPolicy string             `json:"managementPolicy"`
}

type statusView struct {
	Phase                  string              `json:"phase"`
	ObservedGeneration     int64               `json:"observedGeneration"`
	LastReconciledAt       *time.Time          `json:"lastReconciledAt"`
	LastHandledReconcileAt *string             `json:"lastHandledReconcileAt"`
	Conditions             []store.Condition   `json:"conditions"`
	Steps                  map[string]stepView `json:"steps"`
	LastDriftCheck         *driftCheckView     `json:"lastDriftCheck"`
}

type stepView struct {
	State              string        `json:"state"`
	Message            string        `json:"message,omitempty"`
	ExternalID         string        `json:"externalId,omitempty"`
	ObservedGeneration int64         `json:"observedGeneration"`
	LastTransitionTime *time.Time    `json:"lastTransitionTime"`
	Attempts           int           `json:"attempts"`
	Drift              []store.Drift `json:"drift"`
}

// driftCheckView is status.lastDriftCheck, with every list present.
type driftCheckView struct {
	Token     string                          `json:"token"`
	CheckedAt time.Time                       `json:"checkedAt"`
	InSync    bool                            `json:"inSync"`
	Steps     map[string]store.StepDriftCheck `json:"steps"`
}

func driftCheckViewOf(dc *store.DriftCheck) *driftCheckView {
	if dc == nil {
		return nil
	}
	v := &driftCheckView{Token: dc.Token, CheckedAt: dc.CheckedAt, InSync: dc.InSync,
		Steps: make(map[string]store.StepDriftCheck, len(dc.Steps))}
	for name, sc := range dc.Steps {
		sc.Drift = nonNilDrift(sc.Drift)
		v.Steps[name] = sc
	}
	return v
}

func nonNilDrift(d []store.Drift) []store.Drift {
	if d == nil {
		return []store.Drift{}
	}
	return d
}

// viewOf merges a tenant and its status (nil before the controller's first write).
func (s *Server) viewOf(t *store.Tenant, st *store.Status) tenantView {
	md := t.Metadata
	v := tenantView{
		Metadata: metadataView{
			UID: t.ID.Hex(), Slug: md.Slug, Generation: md.Generation, ResourceVersion: md.ResourceVersion,
			CreatedAt: md.CreatedAt, UpdatedAt: md.UpdatedAt, DeletionRequestedAt: md.DeletionRequestedAt,
			Annotations: nonNilMap(md.Annotations), Labels: nonNilMap(md.Labels),
		},
		Spec: specView{
			Name: t.Spec.Name, Plan: t.Spec.Plan, Owner: t.Spec.Owner, Suspended: t.Spec.Suspended,
			Mail: t.Spec.Mail, Storage: t.Spec.Storage, ManagementPolicy: t.Spec.Policy(),
		},
	}
	if t.Spec.PartnerID != "" {
		p := t.Spec.PartnerID
		v.Spec.PartnerID = &p
	}
	if st == nil {
		v.Status = s.pendingStatus()
	} else {
		v.Status = statusView{
			Phase: st.Phase, ObservedGeneration: st.ObservedGeneration, LastReconciledAt: st.LastReconciledAt,
			Conditions: st.Conditions, Steps: make(map[string]stepView, len(st.Steps)),
			LastDriftCheck: driftCheckViewOf(st.LastDriftCheck),
		}
		if st.LastHandledReconcileAt != "" {
			h := st.LastHandledReconcileAt
			v.Status.LastHandledReconcileAt = &h
		}
		for name, step := range st.Steps {
			sv := stepView{State: step.State, Message: step.Message, ExternalID: step.ExternalID,
				ObservedGeneration: step.ObservedGeneration, Attempts: step.Attempts, Drift: nonNilDrift(step.Drift)}
			if !step.LastTransitionTime.IsZero() {
				lt := step.LastTransitionTime
				sv.LastTransitionTime = &lt
			}
			// A spec change the controller has not attempted yet reads pending (store.StateAt):
			// the stored state describes an older generation.
			if md.DeletionRequestedAt == nil && step.StateAt(md.Generation) != step.State {
				sv.State, sv.Message, sv.Drift = step.StateAt(md.Generation), "", []store.Drift{}
			}
			v.Status.Steps[name] = sv
		}
		if v.Status.Phase == "" {
			v.Status.Phase = store.PhasePending
		}
	}
	if v.Status.Conditions == nil {
		v.Status.Conditions = []store.Condition{}
	}
	// The deletion request is desired state the API wrote itself; the caller should see it at
	// once, not after the controller's next status write.
	if md.DeletionRequestedAt != nil {
		v.Status.Phase = store.PhaseDeleting
	}
	v.ProvisioningStatus, v.ProvisioningErrors = s.provisioning(v.Status)
	return v
}

// provisioning is the Node service's view of the steps: every configured step's state
// (ok|skipped|error|pending, as the merged view shows it; a step the status does not name yet
// is pending) and, for the failing steps only, their messages. Both are {} rather than absent
// so the portal never meets a missing key.
func (s *Server) provisioning(st statusView) (states, errs map[string]string) {
	states, errs = map[string]string{}, map[string]string{}
	for _, name := range s.cfg.Steps {
		states[name] = store.StepPending
	}
	for name, step := range st.Steps {
		states[name] = step.State
		if step.State == store.StepError {
			errs[name] = step.Message
		}
	}
	return states, errs
}

// pendingStatus is what a tenant shows before the controller first reports: every configured
// step pending (the controller decides which apply).
func (s *Server) pendingStatus() statusView {
	sv := statusView{Phase: store.PhasePending, Steps: make(map[string]stepView, len(s.cfg.Steps))}
	for _, name := range s.cfg.Steps {
		sv.Steps[name] = stepView{State: store.StepPending, Drift: []store.Drift{}}
	}
	return sv
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// etag is the strong entity tag of a resource version: "17".
func etag(rv int64) string { return `"` + strconv.FormatInt(rv, 10) + `"` }

// listView is the page shape of every list: nextCursor is null on the last page.
type listView[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

func newListView[T any](items []T, next string) listView[T] {
	if items == nil {
		items = []T{}
	}
	lv := listView[T]{Items: items}
	if next != "" {
		lv.NextCursor = &next
	}
	return lv
}

// headerETag is the entity-tag header (echo has no constant for it).
const headerETag = "ETag"
