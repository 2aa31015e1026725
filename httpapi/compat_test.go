package httpapi

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/store"
)

// TestNodeServiceFields: /me entries and the tenant view carry the earlier Node service's
// fields the portal reads: status (the phase in lower case), provisioningStatus (every
// step's state as the view shows it) and provisioningErrors (failing steps' messages only).
func TestNodeServiceFields(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.user("alice")
	e.createTenant(alice, "compat", map[string]any{"mail": map[string]any{"domain": "compat.example"}})
	tn, err := e.st.GetTenant(ctx, "compat")
	if err != nil {
		t.Fatal(err)
	}
	now := e.st.Now()
	if err := e.st.PutStatus(ctx, &store.Status{
		ID: tn.ID, Slug: "compat", Phase: store.PhaseDegraded, ObservedGeneration: 1, LastReconciledAt: &now, LeaderTerm: 1,
		Steps: map[string]store.StepStatus{
			"authentik": {State: store.StepOK, ExternalID: "pk", ObservedGeneration: 1, LastTransitionTime: now},
			"stalwart":  {State: store.StepError, Message: "mail server unreachable; retrying", ObservedGeneration: 1, LastTransitionTime: now, Attempts: 2},
			"ocis":      {State: store.StepOK, ExternalID: "drive", ObservedGeneration: 1, LastTransitionTime: now},
		},
	}); err != nil {
		t.Fatal(err)
	}
	wantStatus := map[string]any{"authentik": "ok", "stalwart": "error", "ocis": "ok"}
	wantErrors := map[string]any{"stalwart": "mail server unreachable; retrying"}

	view := e.get("/tenants/compat", alice).obj(t)
	if diff := cmp.Diff(wantStatus, view["provisioningStatus"]); diff != "" {
		t.Errorf("view provisioningStatus (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantErrors, view["provisioningErrors"]); diff != "" {
		t.Errorf("view provisioningErrors (-want +got):\n%s", diff)
	}
	if _, isObject := view["status"].(map[string]any); !isObject {
		t.Errorf("the view's status is %T, want the status object", view["status"])
	}

	entries := e.get("/me", alice).obj(t)["tenants"].([]any)
	if len(entries) != 1 {
		t.Fatalf("/me tenants: %v", entries)
	}
	want := map[string]any{"slug": "compat", "name": "Tenant compat", "role": "owner", "phase": "Degraded", "status": "degraded",
		"provisioningStatus": wantStatus, "provisioningErrors": wantErrors}
	if diff := cmp.Diff(want, entries[0]); diff != "" {
		t.Errorf("/me entry (-want +got):\n%s", diff)
	}

	// A spec change the controller has not attempted yet: every step reads pending, the error
	// belongs to the older generation and is no longer listed.
	if r := e.do(req{method: http.MethodPatch, path: "/tenants/compat", token: alice, body: `{"name":"Renamed"}`}); r.code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.code, r.body)
	}
	view = e.get("/tenants/compat", alice).obj(t)
	if diff := cmp.Diff(map[string]any{"authentik": "pending", "stalwart": "pending", "ocis": "pending"}, view["provisioningStatus"]); diff != "" {
		t.Errorf("after a spec change, provisioningStatus (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{}, view["provisioningErrors"]); diff != "" {
		t.Errorf("after a spec change, provisioningErrors (-want +got):\n%s", diff)
	}
}
