package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/store"
)

// TestOtherUsersTenantIsNotFound: user B cannot tell A's tenant from a missing one.
func TestOtherUsersTenantIsNotFound(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user("alice"), e.user("bob")
	e.createTenant(alice, "a-corp")
	before := snapshot(t, e.st)

	routes := []req{
		{method: http.MethodGet, path: "/tenants/a-corp"},
		{method: http.MethodPatch, path: "/tenants/a-corp", body: `{"name":"Mine now"}`},
		{method: http.MethodDelete, path: "/tenants/a-corp"},
		{method: http.MethodPost, path: "/tenants/a-corp/reconcile"},
		{method: http.MethodPost, path: "/tenants/a-corp/reconcile?wait=1s"},
		{method: http.MethodPost, path: "/tenants/a-corp/suspend"},
		{method: http.MethodPost, path: "/tenants/a-corp/resume"},
		{method: http.MethodPost, path: "/tenants/a-corp/drift-check"},
		{method: http.MethodPost, path: "/tenants/a-corp/drift-check?wait=1s"},
		{method: http.MethodGet, path: "/tenants/a-corp/events"},
		{method: http.MethodGet, path: "/tenants/a-corp/events?limit=5"},
	}
	invisible := make([]resp, len(routes))
	for i, r := range routes {
		r.token = bob
		r.header = map[string]string{HeaderRequestID: "same-id"}
		invisible[i] = e.do(r)
		requireProblem(t, invisible[i], http.StatusNotFound)
	}
	if diff := cmp.Diff(before, snapshot(t, e.st)); diff != "" {
		t.Fatalf("B's requests wrote something (-before +after):\n%s", diff)
	}
	// Now make the tenant really missing and ask again: byte-identical answers.
	if err := e.st.DeleteTenant(context.Background(), tenantID(t, e.st, "a-corp")); err != nil {
		t.Fatal(err)
	}
	for i, r := range routes {
		r.token = bob
		r.header = map[string]string{HeaderRequestID: "same-id"}
		missing := e.do(r)
		if missing.code != invisible[i].code || !bytes.Equal(missing.body, invisible[i].body) ||
			missing.header.Get("Content-Type") != invisible[i].header.Get("Content-Type") {
			t.Errorf("%s %s: invisible and missing differ:\n%d %s\n%d %s", r.method, r.path,
				invisible[i].code, invisible[i].body, missing.code, missing.body)
		}
	}
}

// TestListingNeverLeaks: every caller's list is exactly what they may see.
func TestListingNeverLeaks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.createPartner("resell")
	e.createPartner("rival")
	alice, bob := e.user("alice"), e.user("bob")
	pa := e.partnerAdmin("pat", "resell")
	op := e.operator()
	e.createTenant(alice, "a-one")
	e.createTenant(alice, "a-two")
	e.createTenant(bob, "b-one")
	e.createTenant(op, "r-one", map[string]any{"partnerId": "resell"})
	e.createTenant(op, "x-one", map[string]any{"partnerId": "rival"})
	// bob is a member of a-two.
	if err := e.st.PutMembership(ctx, store.Membership{TenantSlug: "a-two", TenantID: tenantID(t, e.st, "a-two"), Subject: "bob", Role: store.RoleMember}); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		token string
		want  []string
	}{
		"alice":         {alice, []string{"a-one", "a-two"}},
		"bob":           {bob, []string{"a-two", "b-one"}},
		"partner admin": {pa, []string{"r-one"}},
		"stranger":      {e.user("nobody"), nil},
		"operator":      {op, []string{"a-one", "a-two", "b-one", "r-one", "x-one"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, q := range []string{"", "?phase=Pending", "?limit=1"} {
				var got []string
				path := "/tenants" + q
				for {
					r := e.get(path, tc.token)
					if r.code != http.StatusOK {
						t.Fatalf("%s: %d %s", path, r.code, r.body)
					}
					l := r.obj(t)
					for _, it := range l["items"].([]any) {
						got = append(got, dig(it.(map[string]any), "metadata", "slug").(string))
					}
					if l["nextCursor"] == nil {
						break
					}
					sep := "?"
					if q != "" {
						sep = "&"
					}
					path = "/tenants" + q + sep + "cursor=" + l["nextCursor"].(string)
				}
				sort.Strings(got)
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("GET /tenants%s (-want +got):\n%s", q, diff)
				}
			}
		})
	}
	// The partner admin cannot read another partner's tenant, or a user's.
	requireProblem(t, e.get("/tenants/x-one", pa), http.StatusNotFound)
	requireProblem(t, e.get("/tenants/a-one", pa), http.StatusNotFound)
	if r := e.get("/tenants/r-one", pa); r.code != http.StatusOK {
		t.Fatalf("partner admin on own partner's tenant: %d", r.code)
	}
}

// TestRolesInATenant: members read, admins also write, only owners (and operators) delete.
func TestRolesInATenant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.createTenant(e.user("olga"), "roles-co")
	id := tenantID(t, e.st, "roles-co")
	for sub, role := range map[string]string{"mia": store.RoleMember, "adam": store.RoleAdmin} {
		if err := e.st.PutMembership(ctx, store.Membership{TenantSlug: "roles-co", TenantID: id, Subject: sub, Role: role}); err != nil {
			t.Fatal(err)
		}
	}
	member, admin := e.user("mia"), e.user("adam")
	cases := []struct {
		who   string
		token string
		r     req
		want  int
	}{
		{"member reads", member, req{method: http.MethodGet, path: "/tenants/roles-co"}, http.StatusOK},
		{"member patches", member, req{method: http.MethodPatch, path: "/tenants/roles-co", body: `{"name":"M"}`}, http.StatusForbidden},
		{"member reconciles", member, req{method: http.MethodPost, path: "/tenants/roles-co/reconcile"}, http.StatusForbidden},
		{"member deletes", member, req{method: http.MethodDelete, path: "/tenants/roles-co"}, http.StatusForbidden},
		{"admin patches", admin, req{method: http.MethodPatch, path: "/tenants/roles-co", body: `{"name":"A"}`}, http.StatusOK},
		{"admin reconciles", admin, req{method: http.MethodPost, path: "/tenants/roles-co/reconcile?wait=0"}, http.StatusAccepted},
		{"admin deletes", admin, req{method: http.MethodDelete, path: "/tenants/roles-co"}, http.StatusForbidden},
		{"admin suspends", admin, req{method: http.MethodPost, path: "/tenants/roles-co/suspend"}, http.StatusForbidden},
		{"operator deletes", e.operator(), req{method: http.MethodDelete, path: "/tenants/roles-co"}, http.StatusAccepted},
	}
	for _, tc := range cases {
		tc.r.token = tc.token
		r := e.do(tc.r)
		if r.code != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.who, r.code, tc.want, r.body)
		}
	}
}

// TestSlugTakenByAnyoneIs409: slugs are one global namespace, so a slug taken by a tenant the
// caller cannot see is still a 409 (slugs are one namespace), and nothing is written.
func TestSlugTakenByAnyoneIs409(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user("alice"), e.user("bob")
	e.createTenant(alice, "taken-co")
	before := snapshot(t, e.st)
	for _, tok := range []string{bob, e.operator()} {
		p := requireProblem(t, e.post("/tenants", tok, map[string]any{"slug": "taken-co", "name": "Mine"}), http.StatusConflict)
		if got := fieldsOf(p); len(got) != 1 || got[0] != "slug" {
			t.Fatalf("409 names %v, want slug", got)
		}
	}
	if diff := cmp.Diff(before, snapshot(t, e.st)); diff != "" {
		t.Fatalf("a refused create wrote something (-before +after):\n%s", diff)
	}
	requireProblem(t, e.get("/tenants/taken-co", bob), http.StatusNotFound)
}
