package store_test

import (
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

func TestCreateMembershipAndSubscriptionInsertOnce(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	id := bson.NewObjectID()
	m := store.Membership{TenantSlug: "acme", TenantID: id, Subject: "u1", Role: store.RoleOwner}
	if err := st.CreateMembership(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateMembership(ctx, m); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("second insert: %v, want ErrAlreadyExists", err)
	}
	var ve *store.ValidationError
	if err := st.CreateMembership(ctx, store.Membership{TenantSlug: "acme", TenantID: id, Subject: "u2", Role: "boss"}); !errors.As(err, &ve) {
		t.Fatalf("bad role: %v", err)
	}
	got, err := st.GetMembership(ctx, id, "u1")
	if err != nil || got.Role != store.RoleOwner || got.CreatedAt.IsZero() {
		t.Fatalf("membership %+v %v", got, err)
	}
	sub := store.Subscription{TenantSlug: "acme", TenantID: id, Plan: "starter", Status: "active", Seats: 5}
	if err := st.CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSubscription(ctx, sub); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("second insert: %v, want ErrAlreadyExists", err)
	}
	s, err := st.GetSubscription(ctx, id)
	if err != nil || s.Plan != "starter" || s.PeriodEnd.IsZero() || s.UpdatedAt.IsZero() {
		t.Fatalf("subscription %+v %v", s, err)
	}
}

// TestSlugKeyedIndexesDropped: a database written by an earlier build has unique indexes
// keying memberships by (tenantSlug, subject) and subscriptions by tenantSlug. Opening it
// replaces them with the tenant-id ones, so a new tenant reusing a slug can record its owner
// while an old tenant's leftover of that slug is still there.
func TestSlugKeyedIndexesDropped(t *testing.T) {
	db := storetest.DBName(t)
	old := storetest.NewStoreWith(t, storetest.Options{Database: db})
	ctx := ctxT(t)
	for coll, ix := range map[string]struct {
		drop, name string
		keys       bson.D
	}{
		store.CollMemberships:   {"tenantid_subject_unique", "tenant_subject_unique", bson.D{{Key: "tenantSlug", Value: 1}, {Key: "subject", Value: 1}}},
		store.CollSubscriptions: {"tenantid_unique", "tenant_unique", bson.D{{Key: "tenantSlug", Value: 1}}},
	} {
		if err := storetest.DB(t, old).Collection(coll).Indexes().DropOne(ctx, ix.drop); err != nil {
			t.Fatal(err)
		}
		m := mongo.IndexModel{Keys: ix.keys, Options: options.Index().SetName(ix.name).SetUnique(true)}
		if _, err := storetest.DB(t, old).Collection(coll).Indexes().CreateOne(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	leftover := store.Membership{TenantSlug: "reused", TenantID: bson.NewObjectID(), Subject: "owner", Role: store.RoleOwner}
	if err := old.CreateMembership(ctx, leftover); err != nil {
		t.Fatal(err)
	}

	st := storetest.NewStoreWith(t, storetest.Options{Database: db}) // Open migrates
	for coll, want := range map[string]string{store.CollMemberships: "tenantid_subject_unique", store.CollSubscriptions: "tenantid_unique"} {
		names := map[string]bool{}
		specs, err := storetest.DB(t, st).Collection(coll).Indexes().ListSpecifications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range specs {
			names[s.Name] = true
		}
		if !names[want] || names["tenant_subject_unique"] || names["tenant_unique"] {
			t.Errorf("%s indexes %v, want %s and no slug-keyed one", coll, names, want)
		}
	}
	fresh := leftover
	fresh.TenantID = bson.NewObjectID()
	if err := st.CreateMembership(ctx, fresh); err != nil {
		t.Errorf("the new tenant's owner membership beside an old one of the same slug: %v", err)
	}
}
