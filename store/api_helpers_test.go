package store_test

import (
	"errors"
	"testing"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

func TestCreateMembershipAndSubscriptionInsertOnce(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	m := store.Membership{TenantSlug: "acme", Subject: "u1", Role: store.RoleOwner}
	if err := st.CreateMembership(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateMembership(ctx, m); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("second insert: %v, want ErrAlreadyExists", err)
	}
	var ve *store.ValidationError
	if err := st.CreateMembership(ctx, store.Membership{TenantSlug: "acme", Subject: "u2", Role: "boss"}); !errors.As(err, &ve) {
		t.Fatalf("bad role: %v", err)
	}
	got, err := st.GetMembership(ctx, "acme", "u1")
	if err != nil || got.Role != store.RoleOwner || got.CreatedAt.IsZero() {
		t.Fatalf("membership %+v %v", got, err)
	}
	sub := store.Subscription{TenantSlug: "acme", Plan: "starter", Status: "active", Seats: 5}
	if err := st.CreateSubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSubscription(ctx, sub); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("second insert: %v, want ErrAlreadyExists", err)
	}
	s, err := st.GetSubscription(ctx, "acme")
	if err != nil || s.Plan != "starter" || s.PeriodEnd.IsZero() || s.UpdatedAt.IsZero() {
		t.Fatalf("subscription %+v %v", s, err)
	}
}
