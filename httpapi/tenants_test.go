package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/dezky/platform-api/plan"
	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// stable drops what differs between runs (ids, times) from a tenant view.
func stable(v map[string]any) map[string]any {
	out := map[string]any{}
	raw, _ := json.Marshal(v)
	_ = json.Unmarshal(raw, &out)
	md := out["metadata"].(map[string]any)
	for _, k := range []string{"uid", "createdAt", "updatedAt"} {
		if md[k] == nil || md[k] == "" {
			panic("view lacks metadata." + k)
		}
		delete(md, k)
	}
	if md["deletionRequestedAt"] != nil {
		md["deletionRequestedAt"] = "<set>"
	}
	return out
}

func TestTenantLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.user("alice")

	// POST: 201, Location, ETag, the full view with a pending status.
	r := e.post("/tenants", alice, map[string]any{
		"slug": "acme", "name": "Acme", "plan": "standard", "mail": map[string]any{"domain": "acme.example"},
	})
	if r.code != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.code, r.body)
	}
	if got := r.header.Get("Location"); got != "/tenants/acme" {
		t.Errorf("Location %q", got)
	}
	if got := r.header.Get("ETag"); got != `"1"` {
		t.Errorf("ETag %q", got)
	}
	wantCreated := map[string]any{
		"metadata": map[string]any{
			"slug": "acme", "generation": 1.0, "resourceVersion": 1.0, "deletionRequestedAt": nil,
			"annotations": map[string]any{}, "labels": map[string]any{},
		},
		"spec": map[string]any{
			"name": "Acme", "plan": "standard", "partnerId": nil, "suspended": false,
			"owner": map[string]any{"sub": "alice", "email": "alice@example.com"},
			"mail":  map[string]any{"domain": "acme.example"}, "storage": nil, "managementPolicy": "Full",
		},
		"status": map[string]any{
			"phase": "Pending", "observedGeneration": 0.0, "lastReconciledAt": nil, "lastHandledReconcileAt": nil,
			"conditions": []any{}, "lastDriftCheck": nil,
			"steps": map[string]any{
				"authentik": map[string]any{"state": "pending", "observedGeneration": 0.0, "lastTransitionTime": nil, "attempts": 0.0, "drift": []any{}},
				"stalwart":  map[string]any{"state": "pending", "observedGeneration": 0.0, "lastTransitionTime": nil, "attempts": 0.0, "drift": []any{}},
				"ocis":      map[string]any{"state": "pending", "observedGeneration": 0.0, "lastTransitionTime": nil, "attempts": 0.0, "drift": []any{}},
			},
		},
		"provisioningStatus": map[string]any{"authentik": "pending", "stalwart": "pending", "ocis": "pending"},
		"provisioningErrors": map[string]any{},
	}
	created := r.obj(t)
	if diff := cmp.Diff(wantCreated, stable(created)); diff != "" {
		t.Fatalf("POST body (-want +got):\n%s", diff)
	}
	tn, err := e.st.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if dig(created, "metadata", "uid") != tn.ID.Hex() {
		t.Errorf("metadata.uid %v, want %s", dig(created, "metadata", "uid"), tn.ID.Hex())
	}
	m, err := e.st.GetMembership(ctx, tn.ID, "alice")
	if err != nil || m.Role != store.RoleOwner {
		t.Fatalf("owner membership: %+v %v", m, err)
	}
	sub, err := e.st.GetSubscription(ctx, tn.ID)
	if err != nil || sub.Plan != "standard" || sub.Status != "active" || sub.Seats != defaultSeats {
		t.Fatalf("subscription: %+v %v", sub, err)
	}

	// GET one: same view, ETag.
	r = e.get("/tenants/acme", alice)
	if r.code != http.StatusOK || r.header.Get("ETag") != `"1"` {
		t.Fatalf("GET: %d %q %s", r.code, r.header.Get("ETag"), r.body)
	}
	if diff := cmp.Diff(created, r.obj(t)); diff != "" {
		t.Errorf("GET differs from POST (-post +get):\n%s", diff)
	}

	// GET list.
	list := e.get("/tenants", alice).obj(t)
	if items := list["items"].([]any); len(items) != 1 || dig(items[0].(map[string]any), "metadata", "slug") != "acme" || list["nextCursor"] != nil {
		t.Fatalf("list: %v", list)
	}

	// PATCH with If-Match: a merge patch of spec; the subscription follows the plan.
	r = e.do(req{method: http.MethodPatch, path: "/tenants/acme", token: alice, contentType: "application/merge-patch+json",
		body: `{"name":"Acme GmbH","plan":"business","storage":{"quotaBytes":2048}}`, header: map[string]string{"If-Match": `"1"`}})
	if r.code != http.StatusOK || r.header.Get("ETag") != `"2"` {
		t.Fatalf("PATCH: %d %q %s", r.code, r.header.Get("ETag"), r.body)
	}
	patched := r.obj(t)
	if dig(patched, "spec", "name") != "Acme GmbH" || dig(patched, "spec", "plan") != "business" ||
		dig(patched, "metadata", "generation") != 2.0 || dig(patched, "spec", "storage", "quotaBytes") != 2048.0 ||
		dig(patched, "spec", "mail", "domain") != "acme.example" {
		t.Fatalf("PATCH body: %s", r.body)
	}
	if sub, _ := e.st.GetSubscription(ctx, tn.ID); sub == nil || sub.Plan != "business" || sub.Seats != defaultSeats {
		t.Fatalf("subscription after plan change: %+v", sub)
	}
	// A patch that changes nothing writes nothing.
	r = e.do(req{method: http.MethodPatch, path: "/tenants/acme", token: alice, body: `{"name":"Acme GmbH"}`})
	if r.code != http.StatusOK || r.header.Get("ETag") != `"2"` {
		t.Fatalf("no-op PATCH: %d %q", r.code, r.header.Get("ETag"))
	}
	// Removing a member with null.
	r = e.do(req{method: http.MethodPatch, path: "/tenants/acme", token: alice, body: `{"mail":null,"storage":null}`})
	if r.code != http.StatusOK || dig(r.obj(t), "spec", "mail") != nil || dig(r.obj(t), "spec", "storage") != nil {
		t.Fatalf("PATCH null: %d %s", r.code, r.body)
	}

	// Reconcile with ?wait=0: 202 at once and the token in the annotation.
	r = e.post("/tenants/acme/reconcile?wait=0", alice, nil)
	if r.code != http.StatusAccepted {
		t.Fatalf("reconcile: %d %s", r.code, r.body)
	}
	token := r.obj(t)["requestedAt"].(string)
	if _, err := time.Parse(time.RFC3339Nano, token); err != nil {
		t.Fatalf("requestedAt %q is not RFC3339Nano", token)
	}
	if tn, _ := e.st.GetTenant(ctx, "acme"); tn.Metadata.Annotations[store.AnnotationReconcileRequestedAt] != token {
		t.Fatalf("annotation %v, want %s", tn.Metadata.Annotations, token)
	}

	// The controller's status shows through the view.
	now := e.st.Now()
	if err := e.st.PutStatus(ctx, &store.Status{
		ID: tn.ID, Slug: "acme", Phase: store.PhaseActive, ObservedGeneration: 3, LastReconciledAt: &now,
		LastHandledReconcileAt: token, LeaderTerm: 1,
		Conditions: []store.Condition{{Type: "Ready", Status: "True", Reason: "Reconciled", LastTransitionTime: now, ObservedGeneration: 3}},
		Steps: map[string]store.StepStatus{
			"authentik": {State: store.StepOK, ExternalID: "pk-1", ObservedGeneration: 3, LastTransitionTime: now},
			"stalwart":  {State: store.StepSkipped, ObservedGeneration: 3, LastTransitionTime: now},
			"ocis":      {State: store.StepOK, ExternalID: "drive-1", ObservedGeneration: 3, LastTransitionTime: now},
		},
	}); err != nil {
		t.Fatal(err)
	}
	got := e.get("/tenants/acme", alice).obj(t)
	if dig(got, "status", "phase") != "Active" || dig(got, "status", "lastHandledReconcileAt") != token ||
		dig(got, "status", "steps", "ocis", "externalId") != "drive-1" || len(dig(got, "status", "conditions").([]any)) != 1 {
		t.Fatalf("status view: %v", got["status"])
	}

	// DELETE: 202 with phase Deleting at once; again 202; gone 404.
	r = e.do(req{method: http.MethodDelete, path: "/tenants/acme", token: alice})
	if r.code != http.StatusAccepted || dig(r.obj(t), "status", "phase") != "Deleting" || dig(r.obj(t), "metadata", "deletionRequestedAt") == nil {
		t.Fatalf("DELETE: %d %s", r.code, r.body)
	}
	if r = e.do(req{method: http.MethodDelete, path: "/tenants/acme", token: alice}); r.code != http.StatusAccepted {
		t.Fatalf("DELETE again: %d %s", r.code, r.body)
	}
	// A deleting tenant's spec no longer changes.
	requireProblem(t, e.do(req{method: http.MethodPatch, path: "/tenants/acme", token: alice, body: `{"name":"X"}`}), http.StatusConflict)
	if err := e.st.DeleteTenant(ctx, tn.ID); err != nil { // what the controller does after teardown
		t.Fatal(err)
	}
	requireProblem(t, e.get("/tenants/acme", alice), http.StatusNotFound)
	requireProblem(t, e.do(req{method: http.MethodDelete, path: "/tenants/acme", token: alice}), http.StatusNotFound)
}

func TestCreateDefaultsAndPendingSteps(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Steps = []string{"authentik", "stalwart"} })
	v := e.createTenant(e.user("bob"), "bobco")
	if dig(v, "spec", "plan") != plan.Default {
		t.Errorf("plan %v, want the default %s", dig(v, "spec", "plan"), plan.Default)
	}
	steps := dig(v, "status", "steps").(map[string]any)
	want := map[string]any{
		"authentik": map[string]any{"state": "pending", "observedGeneration": 0.0, "lastTransitionTime": nil, "attempts": 0.0, "drift": []any{}},
		"stalwart":  map[string]any{"state": "pending", "observedGeneration": 0.0, "lastTransitionTime": nil, "attempts": 0.0, "drift": []any{}},
	}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("configured steps only, each pending until the controller reports (-want +got):\n%s", diff)
	}
	if dig(v, "spec", "managementPolicy") != "Full" {
		t.Errorf("managementPolicy %v, want the default Full", dig(v, "spec", "managementPolicy"))
	}
}

func TestListPagingAndPhaseFilter(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op := e.operator()
	slugs := []string{"t-one", "t-two", "t-three", "t-four", "t-five"}
	for _, s := range slugs {
		e.createTenant(op, s)
	}
	// Pages of two, in creation order, with an opaque cursor; null at the end.
	var seen []string
	cursor := ""
	for page := 0; page < 5; page++ {
		path := "/tenants?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		l := e.get(path, op).obj(t)
		for _, it := range l["items"].([]any) {
			seen = append(seen, dig(it.(map[string]any), "metadata", "slug").(string))
		}
		if l["nextCursor"] == nil {
			break
		}
		cursor = l["nextCursor"].(string)
	}
	if diff := cmp.Diff(slugs, seen); diff != "" {
		t.Fatalf("paging (-want +got):\n%s", diff)
	}

	// Statuses: two Active, one being deleted; the rest have none (Pending).
	for _, s := range []string{"t-two", "t-four"} {
		tn, _ := e.st.GetTenant(ctx, s)
		if err := e.st.PutStatus(ctx, &store.Status{ID: tn.ID, Slug: s, Phase: store.PhaseActive, LeaderTerm: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.st.RequestDeletion(ctx, "t-four"); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		query string
		want  []string
	}{
		"active":             {"?phase=Active", []string{"t-two"}},
		"pending":            {"?phase=Pending", []string{"t-one", "t-three", "t-five"}},
		"deleting":           {"?phase=Deleting", []string{"t-four"}},
		"case-insensitive":   {"?phase=pending&limit=5", []string{"t-one", "t-three", "t-five"}},
		"degraded (none)":    {"?phase=Degraded", nil},
		"pending first page": {"?phase=Pending&limit=2", []string{"t-one", "t-three"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			l := e.get("/tenants"+tc.query, op).obj(t)
			var got []string
			for _, it := range l["items"].([]any) {
				got = append(got, dig(it.(map[string]any), "metadata", "slug").(string))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// The filtered page continues where it stopped.
	first := e.get("/tenants?phase=Pending&limit=2", op).obj(t)
	next := e.get("/tenants?phase=Pending&limit=2&cursor="+first["nextCursor"].(string), op).obj(t)
	if items := next["items"].([]any); len(items) != 1 || dig(items[0].(map[string]any), "metadata", "slug") != "t-five" || next["nextCursor"] != nil {
		t.Fatalf("second filtered page: %v", next)
	}
}

// TestListReadsStatusesInOneQuery: a page of tenants costs one status query, not one per tenant.
func TestListReadsStatusesInOneQuery(t *testing.T) {
	var mu sync.Mutex
	finds := map[string]int{}
	mon := &event.CommandMonitor{Started: func(_ context.Context, ev *event.CommandStartedEvent) {
		if ev.CommandName == "find" {
			if coll, ok := ev.Command.Lookup("find").StringValueOK(); ok {
				mu.Lock()
				finds[coll]++
				mu.Unlock()
			}
		}
	}}
	st := storetest.NewStoreWith(t, storetest.Options{Store: store.Options{Monitor: mon}})
	e := newEnv(t, func(c *Config) { c.Store = st })
	e.st = st
	op := e.operator()
	for i := 0; i < 12; i++ {
		e.createTenant(op, "n1-"+string(rune('a'+i))+"x")
	}
	mu.Lock()
	clear(finds)
	mu.Unlock()
	if l := e.get("/tenants?limit=12", op).obj(t); len(l["items"].([]any)) != 12 {
		t.Fatalf("list: %v", l)
	}
	mu.Lock()
	defer mu.Unlock()
	if finds[store.CollTenantStatus] != 1 || finds[store.CollTenants] != 1 {
		t.Fatalf("finds per collection for one page of 12: %v, want one each", finds)
	}
}

func TestMe(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	carol := e.mint(map[string]any{"sub": "carol", "email": "carol@example.com", "name": "Carol", "aud": audPortal, "groups": []string{"staff", "partner:resell:admin"}})
	e.createTenant(carol, "c-first")
	e.createTenant(carol, "c-second", map[string]any{"plan": "business"})
	e.createTenant(e.user("dave"), "d-shared")
	dTenant, _ := e.st.GetTenant(ctx, "d-shared")
	if err := e.st.PutMembership(ctx, store.Membership{TenantSlug: "d-shared", TenantID: dTenant.ID, Subject: "carol", Role: store.RoleMember}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.st.RequestDeletion(ctx, "c-first"); err != nil {
		t.Fatal(err)
	}
	me := e.get("/me", carol).obj(t)
	// The Node service's fields: no status written yet, so every step pending (the controller
	// decides which steps apply).
	pendingNoMail := map[string]any{"authentik": "pending", "stalwart": "pending", "ocis": "pending"}
	want := map[string]any{
		"profile": map[string]any{"sub": "carol", "email": "carol@example.com", "name": "Carol", "groups": []any{"staff", "partner:resell:admin"}},
		"tenants": []any{
			map[string]any{"slug": "c-first", "name": "Tenant c-first", "role": "owner", "phase": "Deleting",
				"status": "deleting", "provisioningStatus": pendingNoMail, "provisioningErrors": map[string]any{}},
			map[string]any{"slug": "c-second", "name": "Tenant c-second", "role": "owner", "phase": "Pending",
				"status": "pending", "provisioningStatus": pendingNoMail, "provisioningErrors": map[string]any{}},
			map[string]any{"slug": "d-shared", "name": "Tenant d-shared", "role": "member", "phase": "Pending",
				"status": "pending", "provisioningStatus": pendingNoMail, "provisioningErrors": map[string]any{}},
		},
		"access": map[string]any{"operator": false, "partnerAdminOf": []any{"resell"}},
	}
	sub := me["subscription"].(map[string]any)
	delete(me, "subscription")
	if diff := cmp.Diff(want, me); diff != "" {
		t.Errorf("/me (-want +got):\n%s", diff)
	}
	if sub["tenantSlug"] != "c-second" || sub["plan"] != "business" || sub["status"] != "active" || sub["seats"] != 5.0 {
		t.Errorf("subscription of the owned tenant not being deleted: %v", sub)
	}

	// Nobody's tenants: empty list, null subscription.
	empty := e.get("/me", e.user("nobody")).obj(t)
	if len(empty["tenants"].([]any)) != 0 || empty["subscription"] != nil {
		t.Errorf("/me of a new user: %v", empty)
	}
}

// TestOwnerSeesTenantWithoutMembership: visibility counts spec.owner.sub, so a crash between
// the tenant insert and the membership insert never hides a tenant from its owner.
func TestOwnerSeesTenantWithoutMembership(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.st.CreateTenant(ctx, store.NewTenant{Slug: "orphan", Spec: store.Spec{Name: "O", Owner: store.Owner{Sub: "erin"}}}); err != nil {
		t.Fatal(err)
	}
	erin := e.user("erin")
	if r := e.get("/tenants/orphan", erin); r.code != http.StatusOK {
		t.Fatalf("GET: %d %s", r.code, r.body)
	}
	if l := e.get("/tenants", erin).obj(t); len(l["items"].([]any)) != 1 {
		t.Fatalf("list: %v", l)
	}
	if me := e.get("/me", erin).obj(t); len(me["tenants"].([]any)) != 1 || dig(me["tenants"].([]any)[0].(map[string]any), "role") != "owner" {
		t.Fatalf("/me: %v", me)
	}
	if r := e.do(req{method: http.MethodPatch, path: "/tenants/orphan", token: erin, body: `{"name":"Mine"}`}); r.code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.code, r.body)
	}
}

func TestSuspendResume(t *testing.T) {
	e := newEnv(t)
	e.createPartner("resell")
	pa := e.partnerAdmin("pat", "resell")
	r := e.post("/partners/resell/tenants", pa, map[string]any{"slug": "p-cust", "name": "Customer"})
	if r.code != http.StatusCreated || dig(r.obj(t), "spec", "partnerId") != "resell" || r.header.Get("Location") != "/tenants/p-cust" {
		t.Fatalf("partner create: %d %s", r.code, r.body)
	}
	owner := e.user("olga")
	e.createTenant(owner, "o-own")

	for _, tc := range []struct {
		who, slug, action string
		token             string
		want              int
		suspended         bool
	}{
		{"partner admin", "p-cust", "suspend", pa, http.StatusOK, true},
		{"partner admin", "p-cust", "resume", pa, http.StatusOK, false},
		{"operator", "o-own", "suspend", e.operator(), http.StatusOK, true},
		{"owner (not a lifecycle role)", "o-own", "resume", owner, http.StatusForbidden, true},
		{"operator", "o-own", "resume", e.operator(), http.StatusOK, false},
	} {
		r := e.post("/tenants/"+tc.slug+"/"+tc.action, tc.token, nil)
		if r.code != tc.want {
			t.Fatalf("%s %s %s: %d %s", tc.who, tc.action, tc.slug, r.code, r.body)
		}
		tn, _ := e.st.GetTenant(context.Background(), tc.slug)
		if tn.Spec.Suspended != tc.suspended {
			t.Fatalf("%s %s %s: suspended %v, want %v", tc.who, tc.action, tc.slug, tn.Spec.Suspended, tc.suspended)
		}
		if tc.want == http.StatusOK && (r.header.Get("ETag") != etag(tn.Metadata.ResourceVersion) || dig(r.obj(t), "spec", "suspended") != tc.suspended) {
			t.Fatalf("%s %s: ETag %q body %s", tc.who, tc.action, r.header.Get("ETag"), r.body)
		}
	}
	// The owner may not suspend through PATCH either.
	requireProblem(t, e.do(req{method: http.MethodPatch, path: "/tenants/o-own", token: owner, body: `{"suspended":true}`}), http.StatusForbidden)
}

func TestPartnersCRUD(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	r := e.post("/partners", op, map[string]any{"slug": "resell", "name": "Resell AG", "contact": "ops@resell.example"})
	if r.code != http.StatusCreated || r.header.Get("Location") != "/partners/resell" || r.header.Get("ETag") != `"1"` {
		t.Fatalf("POST: %d %v %s", r.code, r.header, r.body)
	}
	p := r.obj(t)
	delete(p, "createdAt")
	delete(p, "updatedAt")
	if diff := cmp.Diff(map[string]any{"slug": "resell", "name": "Resell AG", "contact": "ops@resell.example", "status": "active", "resourceVersion": 1.0}, p); diff != "" {
		t.Errorf("POST body (-want +got):\n%s", diff)
	}
	requireProblem(t, e.post("/partners", op, map[string]any{"slug": "resell", "name": "Again"}), http.StatusConflict)
	e.post("/partners", op, map[string]any{"slug": "other", "name": "Other"})

	l := e.get("/partners?limit=1", op).obj(t)
	if len(l["items"].([]any)) != 1 || l["nextCursor"] == nil {
		t.Fatalf("list page 1: %v", l)
	}
	l = e.get("/partners?limit=1&cursor="+l["nextCursor"].(string), op).obj(t)
	if len(l["items"].([]any)) != 1 || l["nextCursor"] != nil || dig(l["items"].([]any)[0].(map[string]any), "slug") != "other" {
		t.Fatalf("list page 2: %v", l)
	}
	if r := e.get("/partners/resell", op); r.code != http.StatusOK || r.header.Get("ETag") != `"1"` {
		t.Fatalf("GET: %d %s", r.code, r.body)
	}
	r = e.do(req{method: http.MethodPatch, path: "/partners/resell", token: op, contentType: "application/merge-patch+json",
		body: `{"status":"suspended","contact":null}`, header: map[string]string{"If-Match": `"1"`}})
	if r.code != http.StatusOK || r.header.Get("ETag") != `"2"` || r.obj(t)["status"] != "suspended" || r.obj(t)["contact"] != "" {
		t.Fatalf("PATCH: %d %s", r.code, r.body)
	}
	requireProblem(t, e.do(req{method: http.MethodPatch, path: "/partners/resell", token: op, body: `{"name":"X"}`,
		header: map[string]string{"If-Match": `"1"`}}), http.StatusPreconditionFailed)
	// A suspended partner takes no new tenants.
	requireProblem(t, e.post("/partners/resell/tenants", op, map[string]any{"slug": "r-new", "name": "N"}), http.StatusConflict)
	e.do(req{method: http.MethodPatch, path: "/partners/resell", token: op, body: `{"status":"active"}`})
	e.post("/partners/resell/tenants", op, map[string]any{"slug": "r-new", "name": "N"})
	requireProblem(t, e.do(req{method: http.MethodDelete, path: "/partners/resell", token: op}), http.StatusConflict)
	if r := e.do(req{method: http.MethodDelete, path: "/partners/other", token: op}); r.code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.code, r.body)
	}
	requireProblem(t, e.get("/partners/other", op), http.StatusNotFound)
	requireProblem(t, e.do(req{method: http.MethodDelete, path: "/partners/other", token: op}), http.StatusNotFound)
}

func TestPartnerTenants(t *testing.T) {
	e := newEnv(t)
	e.createPartner("resell")
	e.createPartner("rival")
	pa := e.partnerAdmin("pat", "resell")
	e.post("/partners/resell/tenants", pa, map[string]any{"slug": "r-one", "name": "One"})
	e.createTenant(e.operator(), "r-two", map[string]any{"partnerId": "resell"})
	e.createTenant(e.operator(), "x-rival", map[string]any{"partnerId": "rival"})
	e.createTenant(e.user("zed"), "z-own")

	l := e.get("/partners/resell/tenants", pa).obj(t)
	var got []string
	for _, it := range l["items"].([]any) {
		got = append(got, dig(it.(map[string]any), "metadata", "slug").(string))
	}
	if diff := cmp.Diff([]string{"r-one", "r-two"}, got); diff != "" {
		t.Errorf("partner list (-want +got):\n%s", diff)
	}
	requireProblem(t, e.get("/partners/rival/tenants", pa), http.StatusForbidden)
	requireProblem(t, e.post("/partners/rival/tenants", pa, map[string]any{"slug": "sneak", "name": "S"}), http.StatusForbidden)
	requireProblem(t, e.get("/partners/ghost/tenants", e.operator()), http.StatusNotFound)
	p := requireProblem(t, e.post("/partners/resell/tenants", pa, map[string]any{"slug": "r-x", "name": "X", "partnerId": "rival"}), http.StatusUnprocessableEntity)
	if diff := cmp.Diff([]string{"partnerId"}, fieldsOf(p)); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	// Through POST /tenants only the partner's admins and operators may name a partner.
	requireProblem(t, e.post("/tenants", e.user("zed"), map[string]any{"slug": "z-two", "name": "Z", "partnerId": "resell"}), http.StatusForbidden)
	if r := e.post("/tenants", pa, map[string]any{"slug": "r-three", "name": "Three", "partnerId": "resell"}); r.code != http.StatusCreated {
		t.Fatalf("partner admin via POST /tenants: %d %s", r.code, r.body)
	}
}

func TestOperatorPauseUnpauseResync(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op := e.operator()
	e.createTenant(e.user("uma"), "paused-co")
	r := e.post("/operator/tenants/paused-co/pause", op, nil)
	if r.code != http.StatusOK || dig(r.obj(t), "metadata", "annotations", "paused") != "true" || r.header.Get("ETag") != `"2"` {
		t.Fatalf("pause: %d %s", r.code, r.body)
	}
	tn, _ := e.st.GetTenant(ctx, "paused-co")
	if tn.Metadata.Annotations[store.AnnotationPaused] != "true" || tn.Metadata.Generation != 1 {
		t.Fatalf("stored: %+v", tn.Metadata)
	}
	r = e.post("/operator/tenants/paused-co/unpause", op, nil)
	if r.code != http.StatusOK || len(dig(r.obj(t), "metadata", "annotations").(map[string]any)) != 0 {
		t.Fatalf("unpause: %d %s", r.code, r.body)
	}
	requireProblem(t, e.post("/operator/tenants/ghost/pause", op, nil), http.StatusNotFound)

	r = e.post("/operator/resync", op, nil)
	if r.code != http.StatusAccepted {
		t.Fatalf("resync: %d %s", r.code, r.body)
	}
	at, err := e.st.ResyncRequestedAt(ctx)
	if err != nil || at.IsZero() {
		t.Fatalf("resync request not recorded: %v %v", at, err)
	}
	if got, _ := time.Parse(time.RFC3339Nano, r.obj(t)["requestedAt"].(string)); !got.Equal(at) {
		t.Fatalf("requestedAt %v, stored %v", got, at)
	}
}

type fakeController struct {
	ready   bool
	details map[string]string
}

func (f fakeController) Readiness() (bool, map[string]string) { return f.ready, f.details }

func TestHealthReadyMetricsOpenAPI(t *testing.T) {
	e := newEnv(t)
	r := e.get("/health", "")
	if diff := cmp.Diff(map[string]any{"status": "ok", "service": "dezky-platform-api", "version": "test"}, r.obj(t)); diff != "" || r.code != 200 {
		t.Errorf("/health %d (-want +got):\n%s", r.code, diff)
	}
	ready := e.get("/ready", "")
	if ready.code != 200 || ready.obj(t)["mongo"] != "ok" || ready.obj(t)["controller"] != "disabled" || ready.obj(t)["status"] != "ok" {
		t.Errorf("/ready without a controller: %d %s", ready.code, ready.body)
	}
	for name, tc := range map[string]struct {
		ctl        fakeController
		code       int
		controller string
	}{
		"standby":  {fakeController{true, map[string]string{"controller": "standby", "leaderTerm": "4"}}, 200, "standby"},
		"leader":   {fakeController{true, map[string]string{"controller": "leader"}}, 200, "leader"},
		"stopped":  {fakeController{false, map[string]string{"controller": "stopped"}}, 503, "stopped"},
		"terse ok": {fakeController{true, nil}, 200, "running"},
	} {
		t.Run("ready "+name, func(t *testing.T) {
			ce := newEnv(t, func(c *Config) { c.Controller = tc.ctl })
			r := ce.get("/ready", "")
			if r.code != tc.code || r.obj(t)["controller"] != tc.controller || r.obj(t)["mongo"] != "ok" {
				t.Fatalf("%d %s", r.code, r.body)
			}
			if tc.code == 503 {
				requireProblem(t, r, 503)
			}
		})
	}
	m := e.get("/metrics", "")
	if m.code != 200 || !strings.Contains(string(m.body), `platform_http_requests_total{code="200",method="GET",route="/health"} 1`) ||
		!strings.Contains(string(m.body), `platform_http_request_duration_seconds_count{method="GET",route="/ready"} 1`) {
		t.Errorf("/metrics: %d\n%s", m.code, m.body)
	}
	o := e.get("/openapi.json", "")
	if o.code != 200 || o.obj(t)["openapi"] != "3.1.0" || !strings.HasPrefix(o.header.Get("Content-Type"), "application/json") {
		t.Errorf("/openapi.json: %d %s", o.code, o.header.Get("Content-Type"))
	}
}

// tenantID reads a tenant's id from the store.
func tenantID(t testing.TB, st *store.Store, slug string) bson.ObjectID {
	t.Helper()
	tn, err := st.GetTenant(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

// TestCreateIgnoresLeftovers: a membership or subscription left behind by an earlier tenant
// of the same slug (a teardown that crashed half-way) belongs to that tenant's id: it neither
// blocks the new tenant's own records nor carries over to it.
func TestCreateIgnoresLeftovers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old := bson.NewObjectID()
	if err := e.st.PutMembership(ctx, store.Membership{TenantSlug: "reused", TenantID: old, Subject: "fred", Role: store.RoleMember}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutSubscription(ctx, store.Subscription{TenantSlug: "reused", TenantID: old, Plan: "starter", Status: "cancelled", Seats: 1}); err != nil {
		t.Fatal(err)
	}
	e.createTenant(e.user("gina"), "reused", map[string]any{"plan": "business"})
	id := tenantID(t, e.st, "reused")
	m, err := e.st.GetMembership(ctx, id, "gina")
	if err != nil || m.Role != store.RoleOwner || m.TenantSlug != "reused" {
		t.Fatalf("owner membership %+v %v", m, err)
	}
	if m, err := e.st.GetMembership(ctx, id, "fred"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the leftover membership carried over: %+v %v", m, err)
	}
	sub, err := e.st.GetSubscription(ctx, id)
	if err != nil || sub.Plan != "business" || sub.Status != "active" || sub.Seats != defaultSeats || sub.TenantID != id {
		t.Fatalf("subscription %+v %v", sub, err)
	}
}

// After a spec change the controller has not attempted yet, every step reads "pending" for the
// new generation rather than the old generation's "ok" (docs/ARCHITECTURE.md, "Step states and phases").
func TestStepsPendingForAnUnattemptedGeneration(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Steps = []string{"authentik", "ocis"} })
	tok := e.user("carol")
	e.createTenant(tok, "carolco")
	tn, err := e.st.GetTenant(context.Background(), "carolco")
	if err != nil {
		t.Fatal(err)
	}
	now := e.st.Now()
	ok := store.StepStatus{State: store.StepOK, ExternalID: "x", ObservedGeneration: 1, LastTransitionTime: now, Attempts: 1}
	if err := e.st.PutStatus(context.Background(), &store.Status{ID: tn.ID, Slug: "carolco", Phase: store.PhaseActive,
		ObservedGeneration: 1, Steps: map[string]store.StepStatus{"authentik": ok, "ocis": ok}}); err != nil {
		t.Fatal(err)
	}
	states := func(v map[string]any) map[string]any {
		out := map[string]any{}
		for name, s := range dig(v, "status", "steps").(map[string]any) {
			out[name] = s.(map[string]any)["state"]
		}
		return out
	}
	if diff := cmp.Diff(map[string]any{"authentik": "ok", "ocis": "ok"}, states(e.get("/tenants/carolco", tok).obj(t))); diff != "" {
		t.Fatalf("before the change (-want +got):\n%s", diff)
	}
	r := e.do(req{method: http.MethodPatch, path: "/tenants/carolco", token: tok, body: map[string]any{"name": "Carol Two"},
		contentType: "application/merge-patch+json"})
	if r.code != http.StatusOK {
		t.Fatalf("PATCH = %d %s", r.code, r.body)
	}
	if diff := cmp.Diff(map[string]any{"authentik": "pending", "ocis": "pending"}, states(r.obj(t))); diff != "" {
		t.Errorf("after the change (-want +got):\n%s", diff)
	}
}

// MODE=controller serves only the probes, with request ids and problem errors like the API.
func TestProbesOnly(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ProbesOnly = true })
	if r := e.get("/health", ""); r.code != http.StatusOK || r.header.Get("X-Request-Id") == "" {
		t.Errorf("/health = %d, request id %q", r.code, r.header.Get("X-Request-Id"))
	}
	if r := e.get("/ready", ""); r.code != http.StatusOK {
		t.Errorf("/ready = %d %s", r.code, r.body)
	}
	r := e.get("/tenants", e.user("dave"))
	requireProblem(t, r, http.StatusNotFound)
	if r.header.Get("X-Request-Id") == "" {
		t.Error("404 without X-Request-Id")
	}
}
