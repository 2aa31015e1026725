package httpapi

import (
	"context"
	"net/http"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// TestReusedSlugGrantsNothing: tenant A (owner X, member Y) is deleted and a stranger Z
// creates tenant B with the same slug. Y must not reach B in any way: 404 on every route, not
// in /me, not in GET /tenants — whether A's teardown ran to the end or crashed before it
// removed A's memberships and subscription. Z's /me shows B's subscription, not A's.
func TestReusedSlugGrantsNothing(t *testing.T) {
	cases := map[string]struct {
		reason string
		remove func(t *testing.T, st *store.Store, id bson.ObjectID)
	}{
		"teardown completed": {
			reason: "the store's deletion path removed everything of A",
			remove: func(t *testing.T, st *store.Store, id bson.ObjectID) {
				if err := st.DeleteTenant(context.Background(), id); err != nil {
					t.Fatal(err)
				}
			},
		},
		"teardown crashed": {
			reason: "only A's tenant and status documents went; its membership and subscription stayed behind",
			remove: func(t *testing.T, st *store.Store, id bson.ObjectID) {
				ctx := context.Background()
				if err := st.DeleteStatus(ctx, id); err != nil {
					t.Fatal(err)
				}
				if _, err := storetest.DB(t, st).Collection(store.CollTenants).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			x, y, z := e.user("xavier"), e.user("yara"), e.user("zeno")
			e.createTenant(x, "shared-slug", map[string]any{"plan": "business"})
			a := tenantID(t, e.st, "shared-slug")
			if err := e.st.PutMembership(ctx, store.Membership{TenantSlug: "shared-slug", TenantID: a, Subject: "yara", Role: store.RoleAdmin}); err != nil {
				t.Fatal(err)
			}
			if r := e.get("/tenants/shared-slug", y); r.code != http.StatusOK {
				t.Fatalf("Y cannot read A before the deletion (%d): the test proves nothing", r.code)
			}
			tc.remove(t, e.st, a)
			leftovers, err := e.st.MembershipsOf(ctx, "yara")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d membership(s) of Y left", tc.reason, len(leftovers))

			e.createTenant(z, "shared-slug")
			b := tenantID(t, e.st, "shared-slug")
			if b == a {
				t.Fatal("B has A's id")
			}
			for _, r := range []req{
				{method: http.MethodGet, path: "/tenants/shared-slug"},
				{method: http.MethodPatch, path: "/tenants/shared-slug", body: `{"name":"Taken over"}`},
				{method: http.MethodPost, path: "/tenants/shared-slug/reconcile?wait=0"},
				{method: http.MethodDelete, path: "/tenants/shared-slug"},
			} {
				r.token = y
				requireProblem(t, e.do(r), http.StatusNotFound)
			}
			for _, tn := range e.get("/me", y).obj(t)["tenants"].([]any) {
				t.Errorf("Y's /me lists %v", tn)
			}
			if items := e.get("/tenants", y).obj(t)["items"].([]any); len(items) != 0 {
				t.Errorf("Y's GET /tenants lists %d tenant(s): %v", len(items), items)
			}

			me := e.get("/me", z).obj(t)
			if n := len(me["tenants"].([]any)); n != 1 {
				t.Errorf("Z's /me lists %d tenants", n)
			}
			if sub, _ := me["subscription"].(map[string]any); sub == nil || sub["plan"] != "starter" || sub["status"] != "active" {
				t.Errorf("Z's subscription %v, want B's own (starter, active), never A's (business)", me["subscription"])
			}
			if r := e.get("/tenants/shared-slug", z); r.code != http.StatusOK {
				t.Errorf("Z cannot read B: %d", r.code)
			}
		})
	}
}
