package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/dezky/platform-api/store"
	"github.com/dezky/platform-api/store/storetest"
)

// replica starts a second API server on the same database and issuer as e: another replica of
// the service, with its own connection pool and its own in-process locks.
func (e *testEnv) replica() *testEnv {
	e.t.Helper()
	st := storetest.NewStoreWith(e.t, storetest.Options{Database: e.st.DatabaseName()})
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := New(ctx, Config{
		Store: st, Version: "test", Registerer: reg, Logger: slog.New(slog.DiscardHandler),
		Auth: AuthConfig{IssuerURL: e.iss.URL(), Audiences: []string{audPortal, audPartner}, OperatorAudiences: []string{audConsole}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	e.t.Cleanup(hs.Close)
	return &testEnv{t: e.t, iss: e.iss, st: st, srv: srv, url: hs.URL, reg: reg, logs: &logBuffer{}}
}

// holdersOf lists the slugs of the tenants whose stored spec names domain.
func holdersOf(t *testing.T, st *store.Store, domain string) []string {
	t.Helper()
	cur, err := storetest.DB(t, st).Collection(store.CollTenants).Find(context.Background(), bson.D{{Key: "spec.mail.domain", Value: domain}})
	if err != nil {
		t.Fatal(err)
	}
	var ts []store.Tenant
	if err := cur.All(context.Background(), &ts); err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, tn := range ts {
		out = append(out, tn.Metadata.Slug)
	}
	slices.Sort(out)
	return out
}

// requireDomainTaken asserts a 409 naming mail.domain.
func requireDomainTaken(t *testing.T, r resp) {
	t.Helper()
	p := requireProblem(t, r, http.StatusConflict)
	if diff := cmp.Diff([]string{"mail.domain"}, fieldsOf(p)); diff != "" {
		t.Fatalf("409 fields (-want +got):\n%s\n%s", diff, r.body)
	}
}

// TestMailDomainBelongsToOneTenant: POST (both routes) and PATCH with a domain another tenant
// holds, in any spelling, are 409 naming mail.domain and write nothing; moving away from a
// domain and deleting its tenant free it for others.
func TestMailDomainBelongsToOneTenant(t *testing.T) {
	e := newEnv(t)
	alice, bob, op := e.user("alice"), e.user("bob"), e.operator()
	e.createPartner("resell")
	created := e.createTenant(alice, "acme", map[string]any{"mail": map[string]any{"domain": "Acme.Example"}})
	if got := dig(created, "spec", "mail", "domain"); got != "acme.example" {
		t.Fatalf("the domain is kept lowercase: spec.mail.domain = %v", got)
	}
	e.createTenant(bob, "bobco")

	for _, spelling := range []string{"acme.example", "ACME.EXAMPLE", "Acme.Example"} {
		t.Run("create "+spelling, func(t *testing.T) {
			before := snapshot(t, e.st)
			requireDomainTaken(t, e.post("/tenants", bob, map[string]any{"slug": "bob-two", "name": "Bob", "mail": map[string]any{"domain": spelling}}))
			requireDomainTaken(t, e.post("/partners/resell/tenants", op, map[string]any{"slug": "resold", "name": "R", "mail": map[string]any{"domain": spelling}}))
			if diff := cmp.Diff(before, snapshot(t, e.st)); diff != "" {
				t.Fatalf("a refused create wrote (-before +after):\n%s", diff)
			}
		})
		t.Run("patch "+spelling, func(t *testing.T) {
			before := snapshot(t, e.st)
			r := e.do(req{method: http.MethodPatch, path: "/tenants/bobco", token: bob,
				body: `{"name":"Bob renamed","mail":{"domain":"` + spelling + `"}}`, contentType: "application/merge-patch+json"})
			requireDomainTaken(t, r)
			if diff := cmp.Diff(before, snapshot(t, e.st)); diff != "" {
				t.Fatalf("a refused patch wrote (-before +after):\n%s", diff)
			}
			if got := dig(e.get("/tenants/bobco", bob).obj(t), "spec"); dig(got.(map[string]any), "name") != "Tenant bobco" || dig(got.(map[string]any), "mail") != nil {
				t.Fatalf("bobco's spec changed: %v", got)
			}
		})
	}

	// acme moves to another domain: its old one is free for bob at once.
	r := e.do(req{method: http.MethodPatch, path: "/tenants/acme", token: alice, body: `{"mail":{"domain":"acme-new.example"}}`})
	if r.code != http.StatusOK {
		t.Fatalf("acme moves: %d %s", r.code, r.body)
	}
	r = e.do(req{method: http.MethodPatch, path: "/tenants/bobco", token: bob, body: `{"mail":{"domain":"ACME.example"}}`})
	if r.code != http.StatusOK || dig(r.obj(t), "spec", "mail", "domain") != "acme.example" {
		t.Fatalf("bob takes the freed domain: %d %s", r.code, r.body)
	}
	if diff := cmp.Diff([]string{"bobco"}, holdersOf(t, e.st, "acme.example")); diff != "" {
		t.Fatalf("holders of acme.example (-want +got):\n%s", diff)
	}

	// A tenant being deleted keeps its domain until the controller has removed it; then the
	// domain is free. (No controller runs here: its last move, DeleteTenant, is done by hand.)
	if r := e.do(req{method: http.MethodDelete, path: "/tenants/bobco", token: bob}); r.code != http.StatusAccepted {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	requireDomainTaken(t, e.post("/tenants", alice, map[string]any{"slug": "acme-two", "name": "A2", "mail": map[string]any{"domain": "acme.example"}}))
	bobco, err := e.st.GetTenant(context.Background(), "bobco")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteTenant(context.Background(), bobco.ID); err != nil {
		t.Fatal(err)
	}
	e.createTenant(alice, "acme-two", map[string]any{"mail": map[string]any{"domain": "acme.example"}})
	if diff := cmp.Diff([]string{"acme-two"}, holdersOf(t, e.st, "acme.example")); diff != "" {
		t.Fatalf("holders of acme.example (-want +got):\n%s", diff)
	}
}

// TestRacingForOneDomain: users creating tenants with one domain at once, through two API
// replicas on one database, in different spellings: exactly one 201, the others 409, and one
// tenant holds the domain. The same holds for PATCHes racing onto one domain.
func TestRacingForOneDomain(t *testing.T) {
	e := newEnv(t)
	replicas := []*testEnv{e, e.replica()}
	const racers = 10
	spellings := []string{"race.example", "RACE.example", "Race.Example"}
	race := func(what string, send func(i int, on *testEnv) (resp, error)) {
		t.Helper()
		resps, errs := make([]resp, racers), make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() { resps[i], errs[i] = send(i, replicas[i%len(replicas)]) })
		}
		wg.Wait()
		won, codes := 0, make([]int, racers)
		for i, r := range resps {
			if errs[i] != nil {
				t.Fatalf("%s racer %d: %v", what, i, errs[i])
			}
			codes[i] = r.code
			switch r.code {
			case http.StatusCreated, http.StatusOK:
				won++
			case http.StatusConflict:
				requireDomainTaken(t, r)
			default:
				t.Fatalf("%s racer %d got %d %s", what, i, r.code, r.body)
			}
		}
		if won != 1 {
			t.Fatalf("%s: %d racers won (%v), want exactly 1", what, won, codes)
		}
	}

	before := snapshot(t, e.st)
	race("create", func(i int, on *testEnv) (resp, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return on.send(ctx, req{method: http.MethodPost, path: "/tenants", token: e.user(fmt.Sprintf("user-%d", i)),
			body: map[string]any{"slug": fmt.Sprintf("racer-%d", i), "name": "Racer", "mail": map[string]any{"domain": spellings[i%len(spellings)]}}})
	})
	after := snapshot(t, e.st)
	if after.Counts[store.CollTenants] != before.Counts[store.CollTenants]+1 ||
		after.Counts[store.CollMemberships] != before.Counts[store.CollMemberships]+1 ||
		after.Counts[store.CollSubscriptions] != before.Counts[store.CollSubscriptions]+1 {
		t.Fatalf("one winner should write one tenant, membership and subscription: %v → %v", before.Counts, after.Counts)
	}
	if got := holdersOf(t, e.st, "race.example"); len(got) != 1 {
		t.Fatalf("holders of race.example: %v", got)
	}

	tokens := make([]string, racers)
	for i := range racers {
		tokens[i] = e.user(fmt.Sprintf("mover-%d", i))
		e.createTenant(tokens[i], fmt.Sprintf("mover-%d", i))
	}
	race("patch", func(i int, on *testEnv) (resp, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return on.send(ctx, req{method: http.MethodPatch, path: fmt.Sprintf("/tenants/mover-%d", i), token: tokens[i],
			body: `{"mail":{"domain":"` + "moved.example" + `"}}`, contentType: "application/merge-patch+json"})
	})
	if got := holdersOf(t, e.st, "moved.example"); len(got) != 1 {
		t.Fatalf("holders of moved.example: %v", got)
	}
}
