package httpapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/store"
)

// checkFuzzResponse asserts what holds for every body: no 5xx, errors are problems, and a
// rejected body wrote nothing.
func checkFuzzResponse(t *testing.T, e *testEnv, r resp, okCode int, before dbState) {
	t.Helper()
	if r.code >= 500 {
		t.Fatalf("5xx: %d %s", r.code, r.body)
	}
	if r.code != okCode {
		if ct := r.header.Get("Content-Type"); ct != ContentTypeProblem {
			t.Fatalf("%d without a problem body: %q %s", r.code, ct, r.body)
		}
		if diff := cmp.Diff(before, snapshot(t, e.st)); diff != "" {
			t.Fatalf("rejected with %d but wrote (-before +after):\n%s\nbody: %s", r.code, diff, r.body)
		}
	}
}

func fuzzSend(t *testing.T, e *testEnv, r req) resp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.send(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// FuzzCreateTenantBody: POST /tenants never answers 5xx and never writes on a rejected body.
func FuzzCreateTenantBody(f *testing.F) {
	for _, seed := range []string{
		`{"slug":"fz-ok","name":"Fuzz"}`,
		`{"slug":"fz-full","name":"Full","plan":"business","mail":{"domain":"fz.example","quotaBytes":1024},"storage":{"quotaBytes":2048}}`,
		`{"slug":"fz-ok","name":"Again"}`,
		`{"slug":"FZ","name":"Bad"}`,
		`{"slug":"fz-x","name":"X","mail":{"domain":"x..example"}}`,
		`{"slug":"fz-x","name":"X","storage":{"quotaBytes":-5}}`,
		`{"slug":"fz-x","name":"X","storage":{"quotaBytes":1e400}}`,
		`{"slug":"fz-x","name":"X","storage":{"quotaBytes":9223372036854775808}}`,
		`{"slug":"fz-x","name":"X","mail":{"domain":"a.example","extra":{}}}`,
		`{"slug":"fz-x","name":"X","partnerId":"ghost"}`,
		`{"slug":"fz-x","name":"\u0000"}`,
		`{"slug":"fz-x","name":"\ud800"}`,
		`{"slug":null,"name":null,"mail":null}`,
		`{"slug":["fz-x"],"name":{}}`,
		`{"__proto__":{"admin":true}}`,
		`[]`, `null`, `"str"`, `0`, `{`, `{}{}`, ``, `{"slug":"fz-x","name":"X"}garbage`,
		`{"slug":"fz-x","name":"X","slug":"fz-y"}`,
		`{"a":{"b":{"c":{"d":{"e":{"f":{}}}}}}}`,
	} {
		f.Add([]byte(seed))
	}
	e := newEnv(f)
	alice := e.user("alice")
	f.Fuzz(func(t *testing.T, body []byte) {
		before := snapshot(t, e.st)
		r := fuzzSend(t, e, req{method: http.MethodPost, path: "/tenants", token: alice, body: body, contentType: "application/json"})
		checkFuzzResponse(t, e, r, http.StatusCreated, before)
		if r.code == http.StatusCreated {
			after := snapshot(t, e.st)
			if after.Counts[store.CollTenants] != before.Counts[store.CollTenants]+1 {
				t.Fatalf("201 but %d → %d tenants", before.Counts[store.CollTenants], after.Counts[store.CollTenants])
			}
		}
	})
}

// FuzzPatchTenantBody: PATCH /tenants/:slug never answers 5xx, never writes on a rejected body,
// and never stores a spec the store would not accept or an owner the caller did not have.
func FuzzPatchTenantBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Renamed"}`,
		`{"plan":"standard"}`,
		`{"plan":"platinum"}`,
		`{"mail":{"domain":"fz.example"}}`,
		`{"mail":{"quotaBytes":5}}`,
		`{"mail":null}`,
		`{"storage":{"quotaBytes":null}}`,
		`{"storage":{"quotaBytes":1.25}}`,
		`{"name":null}`,
		`{"owner":{"sub":"mallory"}}`,
		`{"owner":null}`,
		`{"partnerId":"resell"}`,
		`{"suspended":true}`,
		`{"metadata":{"slug":"x"}}`,
		`{"slug":"x"}`,
		`{"spec":{"name":"nested"}}`,
		`{}`, `[]`, `null`, `true`, `{"name":`, `{"name":"a"}{"name":"b"}`, ``,
		`{"name":"` + string([]byte{0xff, 0xfe}) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	e := newEnv(f)
	alice := e.user("alice")
	ctx := context.Background()
	if _, err := e.st.CreateTenant(ctx, store.NewTenant{Slug: "fz-patch", Spec: store.Spec{
		Name: "Patch me", Owner: store.Owner{Sub: "alice", Email: "alice@example.com"},
	}}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := snapshot(t, e.st)
		r := fuzzSend(t, e, req{method: http.MethodPatch, path: "/tenants/fz-patch", token: alice, body: body, contentType: "application/merge-patch+json"})
		checkFuzzResponse(t, e, r, http.StatusOK, before)
		tn, err := e.st.GetTenant(ctx, "fz-patch")
		if err != nil {
			t.Fatal(err)
		}
		if err := store.ValidateSpec(tn.Spec); err != nil {
			t.Fatalf("stored spec is invalid after %q: %v", body, err)
		}
		if tn.Spec.Owner.Sub != "alice" || tn.Spec.PartnerID != "" || tn.Spec.Suspended {
			t.Fatalf("a guarded field changed after %q: %+v", body, tn.Spec)
		}
	})
}
