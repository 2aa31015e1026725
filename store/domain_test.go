package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

func withDomain(slug, domain string) store.NewTenant {
	n := newTenant(slug)
	n.Spec.Mail = &store.MailSpec{Domain: domain}
	return n
}

// domainHolders lists the slugs of the tenants whose stored spec names domain.
func domainHolders(t *testing.T, st *store.Store, domain string) []string {
	t.Helper()
	ctx := ctxT(t)
	cur, err := storetest.DB(t, st).Collection(store.CollTenants).Find(ctx, bson.D{{Key: "spec.mail.domain", Value: domain}})
	if err != nil {
		t.Fatal(err)
	}
	var ts []store.Tenant
	if err := cur.All(ctx, &ts); err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, tn := range ts {
		out = append(out, tn.Metadata.Slug)
	}
	return out
}

// TestMailDomainBelongsToOneTenant walks a domain through its life: held case-insensitively on
// create and on update, a refused update writes nothing, moving away and deleting free it.
func TestMailDomainBelongsToOneTenant(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	if _, err := st.CreateTenant(ctx, withDomain("acme", "Acme.Example")); err != nil {
		t.Fatal(err)
	}
	if got := domainHolders(t, st, "acme.example"); len(got) != 1 {
		t.Fatalf("the domain is stored lowercase: holders of acme.example = %v", got)
	}
	for _, spelling := range []string{"acme.example", "ACME.EXAMPLE", "aCmE.eXaMpLe"} {
		_, err := st.CreateTenant(ctx, withDomain("beta", spelling))
		if !errors.Is(err, store.ErrDomainTaken) {
			t.Fatalf("create with %q: err = %v, want ErrDomainTaken", spelling, err)
		}
	}
	// A taken slug is named before a taken domain, as before domains were unique.
	if _, err := st.CreateTenant(ctx, withDomain("acme", "acme.example")); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("slug and domain both taken: err = %v, want ErrAlreadyExists", err)
	}
	if n, _ := st.CountTenants(ctx); n != 1 {
		t.Fatalf("%d tenants after refused creates, want 1", n)
	}

	beta, err := st.CreateTenant(ctx, newTenant("beta"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.UpdateSpec(ctx, "beta", 0, func(s *store.Spec) error {
		s.Name = "Beta renamed"
		s.Mail = &store.MailSpec{Domain: "ACME.example"}
		return nil
	})
	if !errors.Is(err, store.ErrDomainTaken) {
		t.Fatalf("update onto another's domain: err = %v, want ErrDomainTaken", err)
	}
	after, err := st.GetTenant(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	if after.Metadata.ResourceVersion != beta.Metadata.ResourceVersion || after.Spec.Name != beta.Spec.Name || after.Spec.Mail != nil {
		t.Fatalf("a refused update wrote: rv %d→%d, spec %+v", beta.Metadata.ResourceVersion, after.Metadata.ResourceVersion, after.Spec)
	}

	// acme moves to another domain: the old one is free at once.
	if _, err := st.UpdateSpec(ctx, "acme", 0, func(s *store.Spec) error { s.Mail.Domain = "acme-new.example"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateSpec(ctx, "beta", 0, func(s *store.Spec) error { s.Mail = &store.MailSpec{Domain: "Acme.Example"}; return nil }); err != nil {
		t.Fatalf("the freed domain: %v", err)
	}
	// The same domain in another spelling changes nothing.
	same, err := st.UpdateSpec(ctx, "beta", 0, func(s *store.Spec) error { s.Mail.Domain = "ACME.EXAMPLE"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if same.Spec.Mail.Domain != "acme.example" || same.Metadata.Generation != 2 {
		t.Fatalf("respelling the domain: %q at generation %d, want acme.example at 2", same.Spec.Mail.Domain, same.Metadata.Generation)
	}

	// Deleting the holder frees its domain.
	if err := st.DeleteTenant(ctx, same.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateTenant(ctx, withDomain("gamma", "acme.example")); err != nil {
		t.Fatalf("the deleted tenant's domain: %v", err)
	}
	if got := domainHolders(t, st, "acme.example"); len(got) != 1 || got[0] != "gamma" {
		t.Fatalf("holders of acme.example = %v, want [gamma]", got)
	}
}

// TestTenantsWithoutMailDoNotCollide: the domain index skips tenants without a domain, on
// MongoDB (sparse) and on FerretDB (which ignores sparse; missing values never collide there).
func TestTenantsWithoutMailDoNotCollide(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	for i := range 3 {
		if _, err := st.CreateTenant(ctx, newTenant(fmt.Sprintf("nomail-%d", i))); err != nil {
			t.Fatalf("tenant %d without mail: %v", i, err)
		}
	}
	if n, _ := st.CountTenants(ctx); n != 3 {
		t.Fatalf("%d tenants, want 3", n)
	}
}

// TestConcurrentClaimsOfOneDomain: tenants racing for one domain, by create and by update, all
// through one store (one process) and through separate stores (separate replicas): exactly
// one wins each race, the rest get ErrDomainTaken.
func TestConcurrentClaimsOfOneDomain(t *testing.T) {
	st := storetest.NewStore(t)
	db := st.DatabaseName()
	replicas := []*store.Store{st}
	for range 3 {
		replicas = append(replicas, storetest.NewStoreWith(t, storetest.Options{Database: db}))
	}
	ctx := ctxT(t)
	const racers = 8
	race := func(what string, fn func(i int, st *store.Store) error) {
		t.Helper()
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() { errs[i] = fn(i, replicas[i%len(replicas)]) })
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrDomainTaken):
				t.Fatalf("%s: racer %d: err = %v, want nil or ErrDomainTaken", what, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("%s: %d racers won, want exactly 1", what, won)
		}
	}

	race("create", func(i int, st *store.Store) error {
		_, err := st.CreateTenant(ctx, withDomain(fmt.Sprintf("racer-%d", i), "Race.Example"))
		return err
	})
	if got := domainHolders(t, st, "race.example"); len(got) != 1 {
		t.Fatalf("holders after the create race: %v", got)
	}
	if n, _ := st.CountTenants(ctx); n != 1 {
		t.Fatalf("%d tenants after the create race, want 1", n)
	}

	for i := range racers {
		if _, err := st.CreateTenant(ctx, newTenant(fmt.Sprintf("mover-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	race("update", func(i int, st *store.Store) error {
		_, err := st.UpdateSpec(ctx, fmt.Sprintf("mover-%d", i), 0, func(s *store.Spec) error {
			s.Mail = &store.MailSpec{Domain: "moved.example"}
			return nil
		})
		return err
	})
	if got := domainHolders(t, st, "moved.example"); len(got) != 1 {
		t.Fatalf("holders after the update race: %v", got)
	}
}

// TestHandWrittenTenantCannotShareADomain: the rule lives in the database, so a document an
// operator writes by hand is held to it too.
func TestHandWrittenTenantCannotShareADomain(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := ctxT(t)
	if _, err := st.CreateTenant(ctx, withDomain("acme", "acme.example")); err != nil {
		t.Fatal(err)
	}
	_, err := storetest.DB(t, st).Collection(store.CollTenants).InsertOne(ctx, bson.D{
		{Key: "metadata", Value: bson.D{{Key: "slug", Value: "by-hand"}}},
		{Key: "spec", Value: bson.D{{Key: "mail", Value: bson.D{{Key: "domain", Value: "acme.example"}}}}},
	})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("hand-written duplicate domain: err = %v, want a duplicate key error", err)
	}
}

// TestOpenNamesTenantsSharingADomain: a database written before domains were unique, with two
// tenants on one domain, stops Open with a message that says what to fix, instead of running
// without the guarantee.
func TestOpenNamesTenantsSharingADomain(t *testing.T) {
	srv := storetest.Shared(t)
	ctx := ctxT(t)
	name := storetest.DBName(t)
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.Database(name).Drop(context.Background())
		_ = client.Disconnect(context.Background())
	})
	for _, slug := range []string{"old-one", "old-two"} {
		if _, err := client.Database(name).Collection(store.CollTenants).InsertOne(ctx, bson.D{
			{Key: "metadata", Value: bson.D{{Key: "slug", Value: slug}}},
			{Key: "spec", Value: bson.D{{Key: "mail", Value: bson.D{{Key: "domain", Value: "shared.example"}}}}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(ctx, store.Options{URI: srv.URI, Database: name})
	if err == nil {
		_ = st.Close(ctx)
		t.Fatal("Open succeeded on tenants sharing a mail domain")
	}
	if !strings.Contains(err.Error(), "tenants share a mail domain") {
		t.Fatalf("Open: %v; want it to say that tenants share a mail domain", err)
	}
}
