package httpapi

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

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
		// Lax input that used to pass (each a case of TestLaxInputIsRefused).
		`{"slug":"fz-ip","name":"X","mail":{"domain":"127.0.0.1"}}`,
		`{"slug":"fz-ip","name":"X","mail":{"domain":"1.2.3.4"}}`,
		`{"slug":"fz-ip","name":"X","mail":{"domain":"[::1]"}}`,
		`{"slug":"fz-num","name":"X","mail":{"domain":"123.456"}}`,
		`{"slug":"fz-num","name":"X","mail":{"domain":"example.123"}}`,
		`{"slug":"fz-num","name":"X","mail":{"domain":"10.0.0.1.nip.io"}}`,
		`{"slug":"fz-case","name":"X","mail":{"domain":"FZ.Example"}}`,
		`{"slug":"fz-kelvin","name":"X","mail":{"domain":"\u212afz.example"}}`,
		`{"slug":"fz-bidi","name":"\u202eevil\u202c"}`,
		`{"slug":"fz-bidi","name":"a\u2066b\u2069"}`,
		`{"slug":"fz-zw","name":"ac\u200bme"}`,
		`{"slug":"fz-zw","name":"ac\u200dme"}`,
		`{"slug":"fz-zw","name":"\ufeffacme"}`,
		`{"slug":"fz-zw","name":"ac\u2060me"}`,
		`{"slug":"fz-ls","name":"a\u2028b"}`,
		`{"slug":"fz-ls","name":"a\u2029b"}`,
		`{"slug":"fz-inv","name":"\u200b\u200d\u2060"}`,
		`{"slug":"fz-inv","name":"\u3164"}`,
		`{"slug":"fz-utf","name":"a` + string([]byte{0xff, 0xfe}) + `b"}`,
		`{"slug":"fz-utf","name":"` + string([]byte{0xed, 0xa0, 0x80}) + `"}`,
		`{"slug":"fz-sur","name":"\udc00x"}`,
		`{"slug":"fz-sur","name":"\udc00\ud800"}`,
		`{"slug":"fz-sur","name":"\ud800\ud800"}`,
		`{"slug":"fz-sur","name":"X","\ud800":1}`,
		`{"slug":"fz-pair","name":"\ud83d\ude00"}`,
		`{"name":"a","name":"b","slug":"fz-dup"}`,
		`{"slug":"fz-dup","name":"X","mail":{"domain":"a.example","domain":"b.example"}}`,
		`{"slug":"fz-dup","name":"X","n\u0061me":"Y"}`,
		`{"slug":"fz-dup","name":"X","x":{"y":[{"z":1,"z":2}]}}`,
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
			if !utf8.Valid(body) {
				t.Fatalf("201 for a body that is not UTF-8: %q", body)
			}
			slug, _ := dig(r.obj(t), "metadata", "slug").(string)
			tn, err := e.st.GetTenant(context.Background(), slug)
			if err != nil {
				t.Fatal(err)
			}
			checkStoredSpec(t, body, tn.Spec)
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
		// Lax input that used to pass (each a case of TestLaxInputIsRefused).
		`{"mail":{"domain":"127.0.0.1"}}`,
		`{"mail":{"domain":"[::1]"}}`,
		`{"mail":{"domain":"example.123"}}`,
		`{"mail":{"domain":"123.456"}}`,
		`{"mail":{"domain":"FZ.EXAMPLE"}}`,
		`{"name":"\u202eevil\u202c"}`,
		`{"name":"\u200b"}`,
		`{"name":"a\u2028b"}`,
		`{"name":"\ufeff"}`,
		`{"name":"a` + string([]byte{0xc3}) + `"}`,
		`{"name":"\ud83d"}`,
		`{"name":"\udc00x"}`,
		`{"name":"a","name":"b"}`,
		`{"mail":{"domain":"a.example","domain":"b.example"}}`,
		`{"name":"Same","suspended":false,"suspended":true}`,
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
		if r.code == http.StatusOK && !utf8.Valid(body) {
			t.Fatalf("200 for a body that is not UTF-8: %q", body)
		}
		checkStoredSpec(t, body, tn.Spec)
	})
}

// checkStoredSpec holds a stored spec to the rules of names and domains, checked here
// independently of the store's validation: no invisible or bidi formatting characters or line
// separators in the name, and a lowercase mail domain that is neither an IP address nor has
// an all-numeric label.
func checkStoredSpec(t *testing.T, body []byte, sp store.Spec) {
	t.Helper()
	for _, r := range sp.Name {
		if unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Fatalf("stored name %q holds %U after %q", sp.Name, r, body)
		}
	}
	if sp.Mail == nil {
		return
	}
	d := sp.Mail.Domain
	if d != strings.ToLower(d) {
		t.Fatalf("stored domain %q is not lowercase after %q", d, body)
	}
	if _, err := netip.ParseAddr(strings.Trim(d, "[]")); err == nil {
		t.Fatalf("stored domain %q is an IP address after %q", d, body)
	}
	for _, l := range strings.Split(d, ".") {
		if _, err := strconv.ParseUint(l, 10, 64); err == nil || strings.Trim(l, "0123456789") == "" {
			t.Fatalf("stored domain %q has the all-numeric label %q after %q", d, l, body)
		}
	}
}
