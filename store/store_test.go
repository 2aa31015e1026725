package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newTenant(slug string) store.NewTenant {
	return store.NewTenant{Slug: slug, Spec: store.Spec{
		Name: "Acme " + slug, Plan: "standard",
		Owner: store.Owner{Sub: "user-" + slug, Email: slug + "@example.com"},
	}}
}

func TestTenantRoundTripKeepsEveryField(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	in := store.NewTenant{
		Slug:   "acme",
		Labels: map[string]string{"tier": "gold"},
		Spec: store.Spec{
			Name: "Acme GmbH", Plan: "business", PartnerID: "resell-one",
			Owner:     store.Owner{Sub: "sub-1", Email: "ceo@acme.example"},
			Suspended: true,
			Mail:      &store.MailSpec{Domain: "acme.example", QuotaBytes: 123},
			Storage:   &store.StorageSpec{QuotaBytes: 456},
		},
	}
	created, err := st.CreateTenant(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if created.Metadata.Generation != 1 || created.Metadata.ResourceVersion != 1 {
		t.Fatalf("new tenant at generation %d rv %d, want 1/1", created.Metadata.Generation, created.Metadata.ResourceVersion)
	}
	if _, err := st.SetAnnotation(ctx, "acme", store.AnnotationPaused, "true"); err != nil {
		t.Fatal(err)
	}
	deleting, _, err := st.RequestDeletion(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for name, get := range map[string]func() (*store.Tenant, error){
		"by slug": func() (*store.Tenant, error) { return st.GetTenant(ctx, "acme") },
		"by id":   func() (*store.Tenant, error) { return st.GetTenantByID(ctx, created.ID) },
	} {
		got, err := get()
		if err != nil {
			t.Fatal(name, err)
		}
		if diff := cmp.Diff(deleting, got); diff != "" {
			t.Errorf("%s: round trip differs (-want +got):\n%s", name, diff)
		}
		if got.Metadata.CreatedAt.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("%s: createdAt not at millisecond precision: %v", name, got.Metadata.CreatedAt)
		}
	}

	now := st.Now()
	status := &store.Status{
		ID: created.ID, Slug: "acme", Phase: store.PhaseActive, ObservedGeneration: 1,
		LastReconciledAt: &now, LastHandledReconcileAt: "2026-11-28T01:02:03.123456789Z", LeaderTerm: 4,
		Conditions: []store.Condition{{Type: "Ready", Status: "True", Reason: "Reconciled", Message: "all steps ok", LastTransitionTime: now, ObservedGeneration: 1}},
		Steps: map[string]store.StepStatus{
			"authentik": {State: store.StepOK, ExternalID: "uuid-1", ObservedGeneration: 1, LastTransitionTime: now, Attempts: 0},
			"stalwart":  {State: store.StepError, Message: "boom", ObservedGeneration: 1, LastTransitionTime: now, Attempts: 3},
			"ocis":      {State: store.StepSkipped, ObservedGeneration: 1, LastTransitionTime: now},
		},
	}
	if err := st.PutStatus(ctx, status); err != nil {
		t.Fatal(err)
	}
	gotStatus, err := st.GetStatus(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(status, gotStatus); diff != "" {
		t.Errorf("status round trip differs (-want +got):\n%s", diff)
	}
}

func TestCreateRejectsDuplicateSlug(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	if _, err := st.CreateTenant(ctx, newTenant("acme")); err != nil {
		t.Fatal(err)
	}
	_, err := st.CreateTenant(ctx, newTenant("acme"))
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("duplicate slug: err = %v, want ErrAlreadyExists", err)
	}
	if n, _ := st.CountTenants(ctx); n != 1 {
		t.Fatalf("%d tenants stored, want 1", n)
	}
}

func TestCreateRejectsBadInputAndWritesNothing(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	long := "a"
	for len(long) < 41 {
		long += "b"
	}
	cases := map[string]struct {
		reason string
		mutate func(*store.NewTenant)
		field  string
	}{
		"uppercase slug":     {"slugs are lowercase DNS-like names", func(n *store.NewTenant) { n.Slug = "Acme" }, "slug"},
		"leading dash":       {"a slug starts with a letter or digit", func(n *store.NewTenant) { n.Slug = "-acme" }, "slug"},
		"trailing dash":      {"a slug ends with a letter or digit", func(n *store.NewTenant) { n.Slug = "acme-" }, "slug"},
		"too long slug":      {"41 characters is one too many", func(n *store.NewTenant) { n.Slug = long }, "slug"},
		"too short slug":     {"two characters is one too few", func(n *store.NewTenant) { n.Slug = "ab" }, "slug"},
		"empty slug":         {"slug is required", func(n *store.NewTenant) { n.Slug = "" }, "slug"},
		"dotted slug":        {"dots would split Mongo paths and DNS labels", func(n *store.NewTenant) { n.Slug = "ac.me" }, "slug"},
		"unicode slug":       {"only ASCII", func(n *store.NewTenant) { n.Slug = "acmé" }, "slug"},
		"empty name":         {"name is required", func(n *store.NewTenant) { n.Spec.Name = "" }, "name"},
		"blank name":         {"whitespace is not a name", func(n *store.NewTenant) { n.Spec.Name = "   " }, "name"},
		"control char name":  {"no control characters", func(n *store.NewTenant) { n.Spec.Name = "a\x00b" }, "name"},
		"unknown plan":       {"plans come from the table", func(n *store.NewTenant) { n.Spec.Plan = "platinum" }, "plan"},
		"bad mail domain":    {"a domain needs a dot and LDH labels", func(n *store.NewTenant) { n.Spec.Mail = &store.MailSpec{Domain: "not a domain"} }, "mail.domain"},
		"kelvin sign domain": {"only ASCII is folded to lowercase; U+212A is not a k", func(n *store.NewTenant) { n.Spec.Mail = &store.MailSpec{Domain: "\u212Acme.example"} }, "mail.domain"},
		"empty mail domain":  {"mail without a domain is meaningless", func(n *store.NewTenant) { n.Spec.Mail = &store.MailSpec{} }, "mail.domain"},
		"negative storage":   {"quotas are non-negative", func(n *store.NewTenant) { n.Spec.Storage = &store.StorageSpec{QuotaBytes: -1} }, "storage.quotaBytes"},
		"bad partner id":     {"partner ids are slugs", func(n *store.NewTenant) { n.Spec.PartnerID = "Bad Partner" }, "partnerId"},
		"bad owner email":    {"owner email must parse", func(n *store.NewTenant) { n.Spec.Owner.Email = "nope" }, "owner.email"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n := newTenant("valid-slug")
			tc.mutate(&n)
			_, err := st.CreateTenant(ctx, n)
			var ve *store.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%s: err = %v, want a ValidationError", tc.reason, err)
			}
			fields := []string{}
			for _, f := range ve.Fields {
				fields = append(fields, f.Field)
			}
			if diff := cmp.Diff([]string{tc.field}, fields); diff != "" {
				t.Errorf("%s: fields named (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
	if n, _ := st.CountTenants(ctx); n != 0 {
		t.Fatalf("%d tenants written by rejected creates, want 0", n)
	}
}

func TestUpdateSpecGenerationAndConflicts(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	created, err := st.CreateTenant(ctx, newTenant("acme"))
	if err != nil {
		t.Fatal(err)
	}

	// A real change bumps both counters.
	got, err := st.UpdateSpec(ctx, "acme", 1, func(s *store.Spec) error { s.Name = "Renamed"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata.Generation != 2 || got.Metadata.ResourceVersion != 2 || got.Spec.Name != "Renamed" {
		t.Fatalf("after rename: gen %d rv %d name %q, want 2/2/Renamed", got.Metadata.Generation, got.Metadata.ResourceVersion, got.Spec.Name)
	}

	// A stale resourceVersion is a conflict and writes nothing.
	_, err = st.UpdateSpec(ctx, "acme", 1, func(s *store.Spec) error { s.Name = "Stale"; return nil })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale rv: err = %v, want ErrConflict", err)
	}

	// A write that changes nothing bumps nothing.
	same, err := st.UpdateSpec(ctx, "acme", 0, func(s *store.Spec) error { s.Name = "Renamed"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if same.Metadata.Generation != 2 || same.Metadata.ResourceVersion != 2 {
		t.Fatalf("no-op update moved counters to gen %d rv %d", same.Metadata.Generation, same.Metadata.ResourceVersion)
	}

	// An invalid spec is rejected and nothing is written.
	_, err = st.UpdateSpec(ctx, "acme", 0, func(s *store.Spec) error { s.Plan = "gold"; return nil })
	var ve *store.ValidationError
	if !errors.As(err, &ve) || ve.Fields[0].Field != "plan" {
		t.Fatalf("invalid plan: err = %v, want a ValidationError on plan", err)
	}

	// Annotations bump resourceVersion only; setting the same value again writes nothing.
	ann, err := st.SetAnnotation(ctx, "acme", store.AnnotationReconcileRequestedAt, "2026-11-28T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	if ann.Metadata.Generation != 2 || ann.Metadata.ResourceVersion != 3 {
		t.Fatalf("annotation: gen %d rv %d, want 2/3", ann.Metadata.Generation, ann.Metadata.ResourceVersion)
	}
	again, err := st.SetAnnotation(ctx, "acme", store.AnnotationReconcileRequestedAt, "2026-11-28T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	if again.Metadata.ResourceVersion != 3 {
		t.Fatalf("repeated annotation wrote: rv %d, want 3", again.Metadata.ResourceVersion)
	}
	cleared, err := st.SetAnnotation(ctx, "acme", store.AnnotationReconcileRequestedAt, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cleared.Metadata.Annotations[store.AnnotationReconcileRequestedAt]; ok || cleared.Metadata.ResourceVersion != 4 {
		t.Fatalf("clear annotation: annotations %v rv %d", cleared.Metadata.Annotations, cleared.Metadata.ResourceVersion)
	}

	stored, err := st.GetTenantByID(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cleared, stored); diff != "" {
		t.Errorf("returned tenant differs from stored (-want +got):\n%s", diff)
	}

	// Deletion: once requested, the spec is frozen; a second request reports it.
	if _, already, err := st.RequestDeletion(ctx, "acme"); err != nil || already {
		t.Fatalf("first deletion request: already=%v err=%v", already, err)
	}
	if _, already, err := st.RequestDeletion(ctx, "acme"); err != nil || !already {
		t.Fatalf("second deletion request: already=%v err=%v", already, err)
	}
	if _, err := st.UpdateSpec(ctx, "acme", 0, func(s *store.Spec) error { s.Name = "Late"; return nil }); !errors.Is(err, store.ErrDeleting) {
		t.Fatalf("update while deleting: err = %v, want ErrDeleting", err)
	}
}

func TestDeleteTenantRemovesEverything(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	tn, err := st.CreateTenant(ctx, newTenant("acme"))
	if err != nil {
		t.Fatal(err)
	}
	must(t, st.PutMembership(ctx, store.Membership{TenantSlug: "acme", TenantID: tn.ID, Subject: "s1", Role: store.RoleOwner}))
	must(t, st.PutSubscription(ctx, store.Subscription{TenantSlug: "acme", TenantID: tn.ID, Plan: "standard", Status: "active", Seats: 5}))
	must(t, st.AppendEvent(ctx, store.Event{TenantID: tn.ID, Slug: "acme", Type: "Normal", Reason: "Created"}))
	must(t, st.PutStatus(ctx, &store.Status{ID: tn.ID, Slug: "acme", Phase: store.PhaseActive, Steps: map[string]store.StepStatus{}}))

	must(t, st.DeleteTenant(ctx, tn.ID))

	if _, err := st.GetTenant(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tenant: err = %v, want ErrNotFound", err)
	}
	if _, err := st.GetStatus(ctx, tn.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("status: err = %v, want ErrNotFound", err)
	}
	if _, err := st.GetSubscription(ctx, tn.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("subscription: err = %v, want ErrNotFound", err)
	}
	if ms, _ := st.MembershipsIn(ctx, tn.ID); len(ms) != 0 {
		t.Errorf("memberships left: %v", ms)
	}
	if evs, _ := st.ListEvents(ctx, tn.ID, 10); len(evs) != 0 {
		t.Errorf("events left: %v", evs)
	}
	// The slug is free again.
	if _, err := st.CreateTenant(ctx, newTenant("acme")); err != nil {
		t.Errorf("recreate after delete: %v", err)
	}
}

func TestStatusWritesAreFencedByLeaderTerm(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	id := bson.NewObjectID()
	must(t, st.PutStatus(ctx, &store.Status{ID: id, Phase: store.PhasePending, LeaderTerm: 5, Steps: map[string]store.StepStatus{}}))
	must(t, st.PutStatus(ctx, &store.Status{ID: id, Phase: store.PhaseActive, LeaderTerm: 5, Steps: map[string]store.StepStatus{}}))
	err := st.PutStatus(ctx, &store.Status{ID: id, Phase: store.PhaseDegraded, LeaderTerm: 4, Steps: map[string]store.StepStatus{}})
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("older term write: err = %v, want ErrFenced", err)
	}
	got, err := st.GetStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Phase != store.PhaseActive || got.LeaderTerm != 5 {
		t.Fatalf("stored status %s at term %d, want Active at 5", got.Phase, got.LeaderTerm)
	}
	must(t, st.PutStatus(ctx, &store.Status{ID: id, Phase: store.PhaseSuspended, LeaderTerm: 6, Steps: map[string]store.StepStatus{}}))
	if got, _ := st.GetStatus(ctx, id); got.Phase != store.PhaseSuspended {
		t.Fatalf("newer term write not applied: %s", got.Phase)
	}
}

func TestEventsTrimKeepsNewest(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	id := bson.NewObjectID()
	base := st.Now()
	for i := 0; i < 12; i++ {
		must(t, st.AppendEvent(ctx, store.Event{TenantID: id, Reason: "R", Time: base.Add(time.Duration(i) * time.Second), Message: string(rune('a' + i))}))
	}
	must(t, st.TrimEvents(ctx, id, 5))
	evs, err := st.ListEvents(ctx, id, 50)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range evs {
		msgs = append(msgs, e.Message)
	}
	if diff := cmp.Diff([]string{"l", "k", "j", "i", "h"}, msgs); diff != "" {
		t.Errorf("kept events (-want +got):\n%s", diff)
	}
}

func TestPartnersCRUD(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	p, err := st.CreatePartner(ctx, store.Partner{Slug: "resell", Name: "Resell AG", Contact: "ops@resell.example"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != store.PartnerActive {
		t.Errorf("default status %q", p.Status)
	}
	if _, err := st.CreatePartner(ctx, store.Partner{Slug: "resell", Name: "Other"}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("duplicate partner: %v", err)
	}
	up, err := st.UpdatePartner(ctx, "resell", p.ResourceVersion, func(p *store.Partner) error { p.Status = store.PartnerSuspended; return nil })
	if err != nil || up.Status != store.PartnerSuspended || up.ResourceVersion != 2 {
		t.Fatalf("update: %+v %v", up, err)
	}
	if _, err := st.UpdatePartner(ctx, "resell", 1, func(p *store.Partner) error { p.Name = "x"; return nil }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale partner update: %v", err)
	}
	list, next, err := st.ListPartners(ctx, "", 10)
	if err != nil || len(list) != 1 || next != "" {
		t.Fatalf("list: %v %q %v", list, next, err)
	}
	must(t, st.DeletePartner(ctx, "resell"))
	if err := st.DeletePartner(ctx, "resell"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestListVisibility(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	ids := map[string]bson.ObjectID{}
	for _, n := range []store.NewTenant{
		{Slug: "own", Spec: store.Spec{Name: "Own", Plan: "starter", Owner: store.Owner{Sub: "alice"}}},
		{Slug: "member", Spec: store.Spec{Name: "M", Plan: "starter", Owner: store.Owner{Sub: "bob"}}},
		{Slug: "partner", Spec: store.Spec{Name: "P", Plan: "starter", PartnerID: "resell", Owner: store.Owner{Sub: "carol"}}},
		{Slug: "hidden", Spec: store.Spec{Name: "H", Plan: "starter", Owner: store.Owner{Sub: "dave"}}},
	} {
		tn, err := st.CreateTenant(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		ids[n.Slug] = tn.ID
	}
	cases := map[string]struct {
		vis  *store.Visibility
		want []string
	}{
		"owner":          {&store.Visibility{OwnerSub: "alice"}, []string{"own"}},
		"owner+member":   {&store.Visibility{OwnerSub: "alice", TenantIDs: []bson.ObjectID{ids["member"]}}, []string{"own", "member"}},
		"unknown id":     {&store.Visibility{TenantIDs: []bson.ObjectID{bson.NewObjectID()}}, nil},
		"partner":        {&store.Visibility{PartnerIDs: []string{"resell"}}, []string{"partner"}},
		"nothing":        {&store.Visibility{}, nil},
		"operator (nil)": {nil, []string{"own", "member", "partner", "hidden"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, _, err := st.ListTenants(ctx, store.ListOptions{Visible: tc.vis})
			if err != nil {
				t.Fatal(err)
			}
			var slugs []string
			for _, tn := range got {
				slugs = append(slugs, tn.Metadata.Slug)
			}
			if diff := cmp.Diff(tc.want, slugs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("visible slugs (-want +got):\n%s", diff)
			}
		})
	}
	if _, _, err := st.ListTenants(ctx, store.ListOptions{Cursor: "bogus"}); !errors.Is(err, store.ErrInvalidCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newID() bson.ObjectID { return bson.NewObjectID() }

// Annotations are written by hand in the Mongo shell; a date or a number there must not make
// the tenant unreadable.
func TestHandWrittenNonStringAnnotationsDecode(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	if _, err := st.CreateTenant(ctx, newTenant("acme")); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 28, 1, 2, 3, 456000000, time.UTC)
	_, err := storetest.DB(t, st).Collection(store.CollTenants).UpdateOne(ctx, bson.D{{Key: "metadata.slug", Value: "acme"}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "metadata.annotations.reconcileRequestedAt", Value: when},
			{Key: "metadata.annotations.paused", Value: true},
			{Key: "metadata.labels.tier", Value: 3},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatalf("tenant with hand-written annotations unreadable: %v", err)
	}
	want := store.StringMap{"reconcileRequestedAt": "2026-11-28T01:02:03.456Z", "paused": "true"}
	if diff := cmp.Diff(want, got.Metadata.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if got.Metadata.Labels["tier"] != "3" {
		t.Errorf("label tier = %q, want \"3\"", got.Metadata.Labels["tier"])
	}
}

// A slug deleted and reused by a new tenant resolves to the new tenant, even though this store
// cached the old id for it.
func TestSlugReusedAfterDeleteResolvesToTheNewTenant(t *testing.T) {
	st := storetest.NewStore(t)
	other := storetest.NewStoreWith(t, storetest.Options{Database: st.DatabaseName()})
	ctx := ctxT(t)
	old, err := st.CreateTenant(ctx, newTenant("acme"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	must(t, other.DeleteTenant(ctx, old.ID)) // another process deletes and recreates it
	if _, err := st.GetTenant(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted slug: err = %v, want ErrNotFound", err)
	}
	fresh, err := other.CreateTenant(ctx, newTenant("acme"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != fresh.ID {
		t.Fatalf("slug resolved to %s, want the new tenant %s", got.ID.Hex(), fresh.ID.Hex())
	}
}
