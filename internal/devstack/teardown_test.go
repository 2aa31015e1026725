package devstack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/integrations"
)

// A tenant whose mail domain is held upstream by another tenant (its marker on the Stalwart
// domain, and on the Authentik group of its name) can still be deleted: the steps refuse to
// adopt the foreign objects (error), teardown leaves them untouched and completes, the tenant
// and its documents are gone and its slug is free again. On the first stage's code the DELETE
// stayed Deleting forever.
func TestAcceptanceForeignObjectsDoNotBlockDeletion(t *testing.T) {
	st, c, _ := acceptanceStack(t, "1h")
	other := integrations.Marker("65f0c0ffee0000000000dead")
	if _, err := st.Stalwart.CreateDomainOutOfBand("taken.example", other); err != nil {
		t.Fatal(err)
	}
	groupPK, err := st.Authentik.CreateGroupOutOfBand("tenant-squatter", map[string]any{"dezkyTenantId": "65f0c0ffee0000000000dead"})
	if err != nil {
		t.Fatal(err)
	}
	code, body := c.do("POST", "/tenants", map[string]any{
		"slug": "squatter", "name": "Squatter", "mail": map[string]any{"domain": "taken.example"},
	})
	if code != http.StatusCreated {
		t.Fatalf("POST = %d %s", code, body)
	}
	eventually(t, 20*time.Second, "both foreign objects refused", func() bool {
		s := c.full("squatter").Status
		return s.Steps["stalwart"].State == "error" && s.Steps["authentik"].State == "error"
	})
	if msg := c.full("squatter").Status.Steps["stalwart"].Message; msg != "mail domain taken.example belongs to another tenant; an operator must look" {
		t.Errorf("stalwart message %q", msg)
	}
	uid := c.full("squatter").Metadata.UID

	if code, body := c.do("DELETE", "/tenants/squatter", nil); code != http.StatusAccepted {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	eventually(t, 20*time.Second, "tenant gone", func() bool {
		code, _ := c.do("GET", "/tenants/squatter", nil)
		return code == http.StatusNotFound
	})
	dom, ok := st.Stalwart.DomainByName("taken.example")
	if !ok || dom.Description != other {
		t.Errorf("the foreign domain was touched: %+v (present %v)", dom, ok)
	}
	if g, ok := st.Authentik.GroupByName("tenant-squatter"); !ok || g.PK != groupPK || g.Attributes["dezkyTenantId"] != "65f0c0ffee0000000000dead" {
		t.Errorf("the foreign group was touched: %+v (present %v)", g, ok)
	}
	id, _ := bson.ObjectIDFromHex(uid)
	db := mongoTenants(t, st).Database()
	for _, coll := range []string{"tenants", "tenant_status", "events", "memberships", "subscriptions"} {
		filter := bson.D{{Key: "_id", Value: id}}
		if coll != "tenants" && coll != "tenant_status" {
			filter = bson.D{{Key: "tenantId", Value: id}}
		}
		if n, err := db.Collection(coll).CountDocuments(context.Background(), filter); err != nil || n != 0 {
			t.Errorf("%s still holds %d documents of the deleted tenant (%v)", coll, n, err)
		}
	}
	// The slug is free again.
	if code, body := c.do("POST", "/tenants", map[string]any{"slug": "squatter", "name": "Again"}); code != http.StatusCreated {
		t.Errorf("re-create = %d %s", code, body)
	}
}

// What a tenant owner reads about a failing upstream names the upstream and the failure class
// in words, never an address or the raw error; the operator finds the raw error in the
// events' detail.
func TestAcceptanceOwnersReadNoInternalAddresses(t *testing.T) {
	st := startStack(t, "1h", "OCIS_API_URL", "http://127.0.0.1:1")
	user, err := st.UserToken()
	if err != nil {
		t.Fatal(err)
	}
	op, err := st.OperatorToken()
	if err != nil {
		t.Fatal(err)
	}
	c, ops := client{t: t, base: st.APIURL, token: user}, client{t: t, base: st.APIURL, token: op}
	if code, body := c.do("POST", "/tenants", map[string]any{"slug": "lonely", "name": "Lonely"}); code != http.StatusCreated {
		t.Fatalf("POST = %d %s", code, body)
	}
	eventually(t, 20*time.Second, "ocis step in error", func() bool { return c.full("lonely").Status.Steps["ocis"].State == "error" })
	for _, path := range []string{"/tenants/lonely", "/tenants/lonely/events", "/me"} {
		code, body := c.do("GET", path, nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, code)
		}
		if strings.Contains(string(body), "127.0.0.1") || strings.Contains(string(body), "dial tcp") {
			t.Errorf("the owner reads an internal address in %s: %s", path, body)
		}
	}
	if msg := c.full("lonely").Status.Steps["ocis"].Message; msg != "file server unreachable; retrying" {
		t.Errorf("ocis message %q", msg)
	}
	if _, body := ops.do("GET", "/tenants/lonely/events", nil); !strings.Contains(string(body), "127.0.0.1:1") {
		t.Errorf("the operator's events lack the raw error: %s", body)
	}
}
