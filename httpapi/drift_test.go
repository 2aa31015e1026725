package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
)

// TestDriftCheckWaitAnswers covers POST /tenants/{slug}/drift-check: 202 with the token written
// to the annotation; ?wait answered 200 with the controller's check for exactly that token, 202
// when the wait runs out, 404 when the tenant is deleted meanwhile; who may ask.
func TestDriftCheckWaitAnswers(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.createTenant(alice, "dc-co")

	r := e.post("/tenants/dc-co/drift-check", alice, nil)
	if r.code != http.StatusAccepted {
		t.Fatalf("no wait: %d %s", r.code, r.body)
	}
	tn, err := e.st.GetTenant(context.Background(), "dc-co")
	if err != nil {
		t.Fatal(err)
	}
	if tok := tn.Metadata.Annotations[store.AnnotationDriftCheckRequestedAt]; tok == "" || r.obj(t)["requestedAt"] != tok {
		t.Fatalf("202 body %s, annotation %v", r.body, tn.Metadata.Annotations)
	}
	if tn.Metadata.Generation != 1 {
		t.Errorf("a drift check changed the generation to %d", tn.Metadata.Generation)
	}

	// The controller's stand-in answers each new token with a check naming one drifted field.
	watchAnnotation(t, e.st, "dc-co", store.AnnotationDriftCheckRequestedAt, func(ctx context.Context, tn *store.Tenant, token string) {
		_ = e.st.PutStatus(ctx, &store.Status{ID: tn.ID, Slug: tn.Metadata.Slug, Phase: store.PhaseActive, LeaderTerm: 1,
			LastDriftCheck: &store.DriftCheck{Token: token, CheckedAt: e.st.Now(), InSync: false,
				Steps: map[string]store.StepDriftCheck{"ocis": {Exists: true, Drift: []store.Drift{{Field: "quota", Want: "10", Got: "1"}}}}}})
	})
	r = e.post("/tenants/dc-co/drift-check?wait=20s", alice, nil)
	if r.code != http.StatusOK {
		t.Fatalf("wait: %d %s", r.code, r.body)
	}
	v := r.obj(t)
	tn, _ = e.st.GetTenant(context.Background(), "dc-co")
	if v["token"] != tn.Metadata.Annotations[store.AnnotationDriftCheckRequestedAt] || v["inSync"] != false {
		t.Fatalf("200 body %s, token %s", r.body, tn.Metadata.Annotations[store.AnnotationDriftCheckRequestedAt])
	}
	want := []any{map[string]any{"field": "quota", "want": "10", "got": "1"}}
	if diff := cmp.Diff(want, dig(v, "steps", "ocis", "drift")); diff != "" {
		t.Errorf("drift (-want +got):\n%s", diff)
	}
}

func TestDriftCheckWaitRunsOutOrTenantGoes(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.createTenant(alice, "dc-slow")
	if r := e.post("/tenants/dc-slow/drift-check?wait=300ms", alice, nil); r.code != http.StatusAccepted || r.obj(t)["requestedAt"] == nil {
		t.Fatalf("unanswered wait: %d %s", r.code, r.body)
	}
	e.createTenant(alice, "dc-doomed")
	watchAnnotation(t, e.st, "dc-doomed", store.AnnotationDriftCheckRequestedAt, func(ctx context.Context, tn *store.Tenant, _ string) {
		_ = e.st.DeleteTenant(ctx, tn.ID)
	})
	requireProblem(t, e.post("/tenants/dc-doomed/drift-check?wait=20s", alice, nil), http.StatusNotFound)
}

func TestDriftCheckAccess(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.createTenant(alice, "dc-priv")
	tn, _ := e.st.GetTenant(context.Background(), "dc-priv")
	if err := e.st.PutMembership(context.Background(), store.Membership{TenantSlug: "dc-priv", TenantID: tn.ID, Subject: "mia", Role: store.RoleMember}); err != nil {
		t.Fatal(err)
	}
	requireProblem(t, e.post("/tenants/dc-priv/drift-check", e.user("stranger"), nil), http.StatusNotFound)
	requireProblem(t, e.post("/tenants/dc-priv/drift-check", e.user("mia"), nil), http.StatusForbidden)
	requireProblem(t, e.post("/tenants/dc-priv/drift-check?wait=soon", alice, nil), http.StatusBadRequest)
	after, _ := e.st.GetTenant(context.Background(), "dc-priv")
	if _, set := after.Metadata.Annotations[store.AnnotationDriftCheckRequestedAt]; set || after.Metadata.ResourceVersion != tn.Metadata.ResourceVersion {
		t.Errorf("a refused drift check wrote: %+v", after.Metadata)
	}
	if r := e.post("/tenants/dc-priv/drift-check", e.operator(), nil); r.code != http.StatusAccepted {
		t.Errorf("operator: %d %s", r.code, r.body)
	}
}

// TestEventsEndpoint: newest first, ?limit, the same visibility as the tenant, bad limits
// refused, details for operators only.
func TestEventsEndpoint(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.createTenant(alice, "ev-co")
	tn, _ := e.st.GetTenant(context.Background(), "ev-co")
	base := e.st.Now().Add(-time.Minute)
	var evs []store.Event
	for i, reason := range []string{"Created", "DriftCorrected", "StepFailed"} {
		evs = append(evs, store.Event{ID: bson.NewObjectID(), TenantID: tn.ID, Slug: "ev-co", Time: base.Add(time.Duration(i) * time.Second),
			Type: "Normal", Step: "ocis", Reason: reason, Message: reason + " message", Detail: "dial tcp 10.0.0.7:9200", Generation: 1})
	}
	if err := e.st.AppendEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	reasons := func(r resp) []any {
		var out []any
		for _, it := range r.obj(t)["items"].([]any) {
			out = append(out, it.(map[string]any)["reason"])
		}
		return out
	}
	r := e.get("/tenants/ev-co/events", alice)
	if diff := cmp.Diff([]any{"StepFailed", "DriftCorrected", "Created"}, reasons(r)); diff != "" || r.code != http.StatusOK {
		t.Fatalf("%d newest first (-want +got):\n%s", r.code, diff)
	}
	if bytes.Contains(r.body, []byte("10.0.0.7")) {
		t.Errorf("the owner sees an operator's detail: %s", r.body)
	}
	first := r.obj(t)["items"].([]any)[0].(map[string]any)
	if first["step"] != "ocis" || first["type"] != "Normal" || first["message"] != "StepFailed message" || first["generation"] != 1.0 || first["time"] == nil {
		t.Errorf("event shape: %v", first)
	}
	if diff := cmp.Diff([]any{"StepFailed", "DriftCorrected"}, reasons(e.get("/tenants/ev-co/events?limit=2", alice))); diff != "" {
		t.Errorf("limit=2 (-want +got):\n%s", diff)
	}
	if r := e.get("/tenants/ev-co/events", e.operator()); !bytes.Contains(r.body, []byte("10.0.0.7")) {
		t.Errorf("the operator does not see the detail: %s", r.body)
	}
	// A stranger's 404 (byte-identical to a missing tenant's: TestIsolation) and bad limits.
	requireProblem(t, e.get("/tenants/ev-co/events", e.user("stranger")), http.StatusNotFound)
	for _, bad := range []string{"0", "51", "-1", "ten", "1.5"} {
		requireProblem(t, e.get("/tenants/ev-co/events?limit="+bad, alice), http.StatusBadRequest)
	}
}
