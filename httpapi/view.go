package httpapi

import (
	"strconv"
	"time"

	"github.com/dezky/platform-api/store"
)

// stepStalwart is the mail step: without a mail domain it has nothing to do (DESIGN §4).
const stepStalwart = "stalwart"

// tenantView is the one JSON shape of a tenant everywhere: desired state and observed state
// merged (DESIGN §4, "the API merges both documents into one view"). Empty maps and lists
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
	Name      string             `json:"name"`
	Plan      string             `json:"plan"`
	PartnerID *string            `json:"partnerId"`
	Owner     store.Owner        `json:"owner"`
	Suspended bool               `json:"suspended"`
	Mail      *store.MailSpec    `json:"mail"`
	Storage   *store.StorageSpec `json:"storage"`
}

type statusView struct {
	Phase                  string              `json:"phase"`
	ObservedGeneration     int64               `json:"observedGeneration"`
	LastReconciledAt       *time.Time          `json:"lastReconciledAt"`
	LastHandledReconcileAt *string             `json:"lastHandledReconcileAt"`
	Conditions             []store.Condition   `json:"conditions"`
	Steps                  map[string]stepView `json:"steps"`
}

type stepView struct {
	State              string     `json:"state"`
	Message            string     `json:"message,omitempty"`
	ExternalID         string     `json:"externalId,omitempty"`
	ObservedGeneration int64      `json:"observedGeneration"`
	LastTransitionTime *time.Time `json:"lastTransitionTime"`
	Attempts           int        `json:"attempts"`
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
			Mail: t.Spec.Mail, Storage: t.Spec.Storage,
		},
	}
	if t.Spec.PartnerID != "" {
		p := t.Spec.PartnerID
		v.Spec.PartnerID = &p
	}
	if st == nil {
		v.Status = s.pendingStatus(t)
	} else {
		v.Status = statusView{
			Phase: st.Phase, ObservedGeneration: st.ObservedGeneration, LastReconciledAt: st.LastReconciledAt,
			Conditions: st.Conditions, Steps: make(map[string]stepView, len(st.Steps)),
		}
		if st.LastHandledReconcileAt != "" {
			h := st.LastHandledReconcileAt
			v.Status.LastHandledReconcileAt = &h
		}
		for name, step := range st.Steps {
			sv := stepView{State: step.State, Message: step.Message, ExternalID: step.ExternalID,
				ObservedGeneration: step.ObservedGeneration, Attempts: step.Attempts}
			if !step.LastTransitionTime.IsZero() {
				lt := step.LastTransitionTime
				sv.LastTransitionTime = &lt
			}
			// A spec change the controller has not attempted yet: the step's state describes an
			// older generation, and DESIGN §10 calls a step "pending" until its first attempt for
			// the current one. The controller cannot say so itself before it runs.
			if step.ObservedGeneration < md.Generation && md.DeletionRequestedAt == nil {
				sv.State, sv.Message = store.StepPending, ""
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
// step pending, except the mail step of a tenant without a mail domain, which will be skipped.
func (s *Server) pendingStatus(t *store.Tenant) statusView {
	sv := statusView{Phase: store.PhasePending, Steps: make(map[string]stepView, len(s.cfg.Steps))}
	for _, name := range s.cfg.Steps {
		state := store.StepPending
		if name == stepStalwart && (t.Spec.Mail == nil || t.Spec.Mail.Domain == "") {
			state = store.StepSkipped
		}
		sv.Steps[name] = stepView{State: state}
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
