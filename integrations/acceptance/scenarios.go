package acceptance

import (
	"errors"
	"slices"

	"github.com/dezky/platform-api/integrations"
)

// standard is the scenario table every integration runs (docs/ARCHITECTURE.md, live
// acceptance suites). Each scenario makes its own tenant, so one failing leaves the others
// meaningful.
func standard(up Upstream) []Scenario {
	out := []Scenario{
		{Name: "create", Run: create},
		{Name: "observe in sync", Run: observeInSync},
		{Name: "apply idempotent", Run: applyIdempotent},
		{Name: "lost create response adopts", Run: lostCreateResponse},
	}
	for _, tp := range up.Tampers() {
		out = append(out, Scenario{Name: "drift " + tp.Name, Run: func(h *Harness) { driftRepaired(h, tp) }})
	}
	return append(out,
		Scenario{Name: "suspend and resume", Run: suspendResume},
		Scenario{Name: "delete", Run: deleteTenant},
		Scenario{Name: "delete of a missing object", Run: deleteMissing},
		Scenario{Name: "foreign marker is permanent", Run: foreignMarker},
	)
}

// create: a new tenant's objects are created, reported with their id, ours and in sync.
func create(h *Harness) {
	d := h.Tenant()
	res := h.MustConverge(d)
	if res.Action != integrations.ActionCreated || res.ExternalID == "" {
		h.T.Fatalf("Apply = %+v, want created with an external id", res)
	}
	h.InSync(*d, "after create")
	h.Owned(*d, 1, "after create")
}

// observeInSync: Observe of a converged tenant finds it by the recorded id and, the id lost,
// by its marker; it never writes.
func observeInSync(h *Harness) {
	d := h.Tenant()
	created := h.MustConverge(d)
	h.InSync(*d, "by recorded id")
	lost := *d
	lost.ExternalID = ""
	if o := h.Observe(lost); o.ExternalID != created.ExternalID || len(o.Drift) != 0 {
		h.T.Errorf("without the recorded id: Observe = %+v, want %s in sync", o, created.ExternalID)
	}
}

// applyIdempotent: a second reconcile, and an Apply of an in-sync observation, write nothing.
func applyIdempotent(h *Harness) {
	d := h.Tenant()
	h.MustConverge(d)
	h.Rec.Writes()
	if res := h.MustConverge(d); res.Action != integrations.ActionUnchanged {
		h.T.Errorf("second reconcile: %+v, want unchanged", res)
	}
	o := h.Observe(*d)
	res, err := h.Step.Apply(h.Ctx(), *d, o)
	if err != nil || res.Action != integrations.ActionUnchanged {
		h.T.Errorf("Apply in sync: %+v, %v; want unchanged", res, err)
	}
	if w := h.Rec.Writes(); len(w) != 0 {
		h.T.Errorf("writes while in sync: %v", w)
	}
	h.Owned(*d, 1, "after repeated reconciles")
}

// lostCreateResponse: the create reached the upstream but its answer was lost; the retry finds
// the object by its name or marker and adopts it instead of making a second one.
//
// What the retry reports as its Action is the step's own account of the rest of its work, not
// of the adoption: oCIS says adopted (the space was found by marker), Authentik says updated
// (the owner still had to be added), Stalwart says created (the team account was still to
// make). The identity of the object is what all of them must agree on.
func lostCreateResponse(h *Harness) {
	d := h.Tenant()
	h.Rec.LoseResponseOnce(h.suite.IsCreate)
	_, err := h.Converge(d)
	if !errors.Is(err, ErrLostResponse) || !integrations.IsRetryable(err) {
		h.T.Fatalf("first reconcile: %v, want the lost response, retryable", err)
	}
	made := h.Observe(*d)
	if !made.Exists || made.Owner != integrations.Ours || made.ExternalID == "" {
		h.T.Fatalf("after the lost response Observe = %+v, want the object the create made, ours", made)
	}
	h.Owned(*d, 1, "after the lost response")
	res := h.MustConverge(d)
	if res.ExternalID != made.ExternalID {
		h.T.Errorf("retry: %+v, want %s adopted", res, made.ExternalID)
	}
	h.Owned(*d, 1, "after the retry")
	h.InSync(*d, "after the retry")
}

// driftRepaired: an out-of-band change shows up in Observe as its field, and one reconcile
// repairs it.
func driftRepaired(h *Harness, tp Tamper) {
	d := h.Tenant()
	h.MustConverge(d)
	if err := h.Up.Tamper(h.Ctx(), *d, tp.Name); err != nil {
		h.T.Fatalf("tamper %q: %v", tp.Name, err)
	}
	o := h.Observe(*d)
	if !slices.ContainsFunc(o.Drift, func(dr integrations.Drift) bool { return dr.Field == tp.Field }) {
		h.T.Errorf("after %q Observe reports %+v, want field %q", tp.Name, o.Drift, tp.Field)
	}
	h.MustConverge(d)
	h.InSync(*d, "after the repair")
	h.Owned(*d, 1, "after the repair")
}

// suspendResume: suspension is applied and then in sync (a repeat writes nothing); resume
// brings the tenant back as it was.
func suspendResume(h *Harness) {
	d := h.Tenant()
	created := h.MustConverge(d)
	d.Suspended = true
	h.MustConverge(d)
	h.InSync(*d, "suspended")
	h.Rec.Writes()
	h.MustConverge(d)
	if w := h.Rec.Writes(); len(w) != 0 {
		h.T.Errorf("suspended twice: writes %v", w)
	}
	d.Suspended = false
	if res := h.MustConverge(d); res.ExternalID != created.ExternalID {
		h.T.Errorf("resume: %+v, want the same object %s", res, created.ExternalID)
	}
	h.InSync(*d, "resumed")
}

// deleteTenant: Delete removes the tenant's objects.
func deleteTenant(h *Harness) {
	d := h.Tenant()
	created := h.MustConverge(d)
	if err := h.Step.Delete(h.Ctx(), *d); err != nil {
		h.T.Fatalf("Delete: %v", err)
	}
	if ok, err := h.Up.Exists(h.Ctx(), created.ExternalID); err != nil || ok {
		h.T.Errorf("after Delete the object exists: %v, %v", ok, err)
	}
	h.Owned(*d, 0, "after Delete")
	if o := h.Observe(*d); o.Exists {
		h.T.Errorf("after Delete Observe finds %+v", o)
	}
}

// deleteMissing: deleting what is already gone, or was never made, succeeds and writes nothing.
func deleteMissing(h *Harness) {
	d := h.Tenant()
	h.MustConverge(d)
	if err := h.Step.Delete(h.Ctx(), *d); err != nil {
		h.T.Fatalf("Delete: %v", err)
	}
	h.Rec.Writes()
	if err := h.Step.Delete(h.Ctx(), *d); err != nil {
		h.T.Errorf("second Delete: %v", err)
	}
	never := h.Tenant()
	if err := h.Step.Delete(h.Ctx(), *never); err != nil {
		h.T.Errorf("Delete of a tenant never created: %v", err)
	}
	if w := h.Rec.Writes(); len(w) != 0 {
		h.T.Errorf("deleting nothing wrote: %v", w)
	}
}

// foreignMarker: a recorded id that names another tenant's object (under the name the suite's
// ForeignName gives it) is a permanent error; the object is neither changed nor deleted, and
// Delete succeeds leaving it in place.
func foreignMarker(h *Harness) {
	d := h.Tenant()
	otherID, _ := NewTenant()
	name := h.suite.Prefix + "foreign-" + d.Slug
	if h.suite.ForeignName != nil {
		name = h.suite.ForeignName(*d)
	}
	id, err := h.Up.CreateForeign(h.Ctx(), name, otherID)
	if err != nil {
		h.T.Fatalf("create foreign object: %v", err)
	}
	h.T.Cleanup(func() {
		if err := h.Up.Remove(h.Ctx(), id); err != nil {
			h.T.Errorf("cleanup: remove foreign object: %v", err)
		}
	})
	d.ExternalID = id
	h.Rec.Writes()
	if _, err := h.Converge(d); !integrations.IsPermanent(err) {
		h.T.Errorf("reconcile: %v, want permanent", err)
	}
	if err := h.Step.Delete(h.Ctx(), *d); err != nil {
		h.T.Errorf("Delete with a foreign recorded id: %v", err)
	}
	if w := h.Rec.Writes(); len(w) != 0 {
		h.T.Errorf("the foreign object was written to: %v", w)
	}
	if ok, err := h.Up.Exists(h.Ctx(), id); err != nil || !ok {
		h.T.Errorf("the foreign object is gone: %v, %v", ok, err)
	}
	d.ExternalID = ""
}
