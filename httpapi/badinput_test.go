package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBadInput: each bad request gets the right code and a problem body naming the field, and
// nothing is written (document counts and every tenant's resourceVersion are unchanged).
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	alice, op := e.user("alice"), e.operator()
	e.createPartner("resell")
	e.createTenant(alice, "acme")
	if r := e.do(req{method: http.MethodPatch, path: "/tenants/acme", token: alice, body: `{"name":"Acme 2"}`}); r.code != http.StatusOK {
		t.Fatalf("setup patch: %d %s", r.code, r.body)
	}
	big := `{"slug":"big-one","name":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	post := func(body any) req { return req{method: http.MethodPost, path: "/tenants", token: alice, body: body} }
	patch := func(body string, hdr ...string) req {
		r := req{method: http.MethodPatch, path: "/tenants/acme", token: alice, body: body, contentType: "application/merge-patch+json"}
		if len(hdr) == 2 {
			r.header = map[string]string{hdr[0]: hdr[1]}
		}
		return r
	}
	cases := map[string]struct {
		reason string
		r      req
		want   int
		fields []string
	}{
		"invalid slug":        {"uppercase and underscore", post(`{"slug":"Bad_Slug","name":"X"}`), 422, []string{"slug"}},
		"short slug":          {"two characters", post(`{"slug":"ab","name":"X"}`), 422, []string{"slug"}},
		"missing name":        {"name is required", post(`{"slug":"no-name"}`), 422, []string{"name"}},
		"missing both":        {"every invalid field is named", post(`{}`), 422, []string{"name", "slug"}},
		"blank name":          {"only spaces", post(`{"slug":"blank","name":"   "}`), 422, []string{"name"}},
		"control chars":       {"a name with a newline", post(`{"slug":"ctl","name":"a\nb"}`), 422, []string{"name"}},
		"long name":           {"201 characters", post(`{"slug":"long","name":"` + strings.Repeat("n", 201) + `"}`), 422, []string{"name"}},
		"name wrong type":     {"a number for a string", post(`{"slug":"typed","name":5}`), 422, []string{"name"}},
		"unknown plan":        {"not in the plan table", post(`{"slug":"planx","name":"X","plan":"gold"}`), 422, []string{"plan"}},
		"bad domain":          {"not a DNS name", post(`{"slug":"dom","name":"X","mail":{"domain":"not a domain"}}`), 422, []string{"mail.domain"}},
		"mail without domain": {"mail needs a domain", post(`{"slug":"dom","name":"X","mail":{}}`), 422, []string{"mail.domain"}},
		"negative quota":      {"quota below zero", post(`{"slug":"quo","name":"X","storage":{"quotaBytes":-1}}`), 422, []string{"storage.quotaBytes"}},
		"quota as string":     {"a string for an integer", post(`{"slug":"quo","name":"X","storage":{"quotaBytes":"10GB"}}`), 422, []string{"storage.quotaBytes"}},
		"fractional quota":    {"not an integer", post(`{"slug":"quo","name":"X","mail":{"domain":"a.example","quotaBytes":1.5}}`), 422, []string{"mail.quotaBytes"}},
		"mail not an object":  {"a string for an object", post(`{"slug":"quo","name":"X","mail":"a.example"}`), 422, []string{"mail"}},
		"unknown field":       {"DisallowUnknownFields", post(`{"slug":"unk","name":"X","color":"red"}`), 422, []string{"color"}},
		"unknown nested":      {"named with its path", post(`{"slug":"unk","name":"X","mail":{"domain":"a.example","spam":true}}`), 422, []string{"mail.spam"}},
		"owner in body":       {"the owner comes from the token", post(`{"slug":"own","name":"X","owner":{"sub":"evil"}}`), 422, []string{"owner"}},
		"array body":          {"not an object", post(`[{"slug":"arr","name":"X"}]`), 422, []string{"(body)"}},
		"malformed json":      {"syntax error", post(`{"slug":"mal","name":`), 400, nil},
		"trailing data":       {"two values", post(`{"slug":"two","name":"X"} {}`), 400, nil},
		"empty body":          {"nothing sent", post(""), 400, nil},
		"duplicate slug":      {"slugs are global", post(`{"slug":"acme","name":"Again"}`), 409, []string{"slug"}},
		"oversized":           {"over 1 MiB with Content-Length", post(big), 413, nil},
		"oversized chunked": {"over 1 MiB without Content-Length",
			req{method: http.MethodPost, path: "/tenants", token: alice, body: io.MultiReader(strings.NewReader(big)), contentType: "application/json"}, 413, nil},
		"text/plain":           {"wrong content type", req{method: http.MethodPost, path: "/tenants", token: alice, body: `{"slug":"ct","name":"X"}`, contentType: "text/plain"}, 415, nil},
		"merge-patch for POST": {"POST needs application/json", req{method: http.MethodPost, path: "/tenants", token: alice, body: `{"slug":"ct","name":"X"}`, contentType: "application/merge-patch+json"}, 415, nil},
		"no partner":           {"partnerId must name a partner", req{method: http.MethodPost, path: "/tenants", token: op, body: `{"slug":"pp","name":"X","partnerId":"ghost"}`}, 422, []string{"partnerId"}},

		"stale If-Match":     {"the tenant is at 2", patch(`{"name":"Stale"}`, "If-Match", `"1"`), 412, nil},
		"weak If-Match":      {"weak tags never match", patch(`{"name":"Weak"}`, "If-Match", `W/"2"`), 412, nil},
		"garbage If-Match":   {"not an entity tag", patch(`{"name":"G"}`, "If-Match", `2`), 400, []string{"If-Match"}},
		"patch metadata":     {"only spec is patchable", patch(`{"metadata":{"slug":"other"}}`), 422, []string{"metadata"}},
		"patch slug":         {"the slug never changes", patch(`{"slug":"other"}`), 422, []string{"slug"}},
		"patch owner":        {"the owner is read-only", patch(`{"owner":{"sub":"mallory"}}`), 422, []string{"owner"}},
		"patch partnerId":    {"the partner is read-only", patch(`{"partnerId":"resell"}`), 422, []string{"partnerId"}},
		"patch name null":    {"removing a required member", patch(`{"name":null}`), 422, []string{"name"}},
		"patch plan type":    {"a number for a string", patch(`{"plan":3}`), 422, []string{"plan"}},
		"patch unknown":      {"unknown member", patch(`{"nickname":"x"}`), 422, []string{"nickname"}},
		"patch not object":   {"a merge patch of spec must be an object", patch(`["name"]`), 422, []string{"(body)"}},
		"patch malformed":    {"syntax error", patch(`{"name":}`), 400, nil},
		"patch text/plain":   {"wrong content type", req{method: http.MethodPatch, path: "/tenants/acme", token: alice, body: `{"name":"T"}`, contentType: "text/plain"}, 415, nil},
		"patch no type":      {"no content type at all", req{method: http.MethodPatch, path: "/tenants/acme", token: alice, body: []byte(`{"name":"T"}`), contentType: "-"}, 415, nil},
		"invalid cursor":     {"not issued here", req{method: http.MethodGet, path: "/tenants?cursor=bm90LWEtY3Vyc29y", token: alice}, 400, []string{"cursor"}},
		"limit zero":         {"below 1", req{method: http.MethodGet, path: "/tenants?limit=0", token: alice}, 400, []string{"limit"}},
		"limit text":         {"not a number", req{method: http.MethodGet, path: "/tenants?limit=ten", token: alice}, 400, []string{"limit"}},
		"limit too big":      {"above 500", req{method: http.MethodGet, path: "/tenants?limit=501", token: alice}, 400, []string{"limit"}},
		"bad phase":          {"not a phase", req{method: http.MethodGet, path: "/tenants?phase=Running", token: alice}, 400, []string{"phase"}},
		"wait negative":      {"below zero", req{method: http.MethodPost, path: "/tenants/acme/reconcile?wait=-1s", token: alice}, 400, []string{"wait"}},
		"wait text":          {"not a duration", req{method: http.MethodPost, path: "/tenants/acme/reconcile?wait=soon", token: alice}, 400, []string{"wait"}},
		"partner contact":    {"not an email", req{method: http.MethodPost, path: "/partners", token: op, body: `{"slug":"p-two","name":"P","contact":"nope"}`}, 422, []string{"contact"}},
		"partner unknown":    {"unknown member", req{method: http.MethodPost, path: "/partners", token: op, body: `{"slug":"p-two","name":"P","tier":1}`}, 422, []string{"tier"}},
		"partner patch slug": {"the slug never changes", req{method: http.MethodPatch, path: "/partners/resell", token: op, body: `{"slug":"r2"}`}, 422, []string{"slug"}},
		"partner status":     {"not a status", req{method: http.MethodPatch, path: "/partners/resell", token: op, body: `{"status":"gone"}`}, 422, []string{"status"}},
	}
	if len(cases) < 20 {
		t.Fatalf("only %d cases", len(cases))
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := snapshot(t, e.st)
			r := e.do(tc.r)
			p := requireProblem(t, r, tc.want)
			got := fieldsOf(p)
			sort.Strings(got)
			if diff := cmp.Diff(tc.fields, got); diff != "" {
				t.Errorf("%s: fields (-want +got):\n%s\n%s", tc.reason, diff, r.body)
			}
			if diff := cmp.Diff(before, snapshot(t, e.st)); diff != "" {
				t.Errorf("%s: something was written (-before +after):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestBodyUpToTheLimitIsRead: the cap is on size, not on validity: a body just under 1 MiB is
// read and judged on its content.
func TestBodyUpToTheLimitIsRead(t *testing.T) {
	e := newEnv(t)
	body := []byte(`{"slug":"pad","name":"X","mail":{"domain":"a.example"}}`)
	padded := append(bytes.Repeat([]byte(" "), maxBodyBytes-len(body)), body...)
	r := e.post("/tenants", e.user("alice"), padded)
	if r.code != http.StatusCreated {
		t.Fatalf("%d %s", r.code, r.body)
	}
}

// TestUnsupportedMediaTypeNamesWhatIsAccepted: a 415 says which media types the method takes,
// in the header of that method: Accept-Patch for PATCH (RFC 5789), Accept-Post for POST.
func TestUnsupportedMediaTypeNamesWhatIsAccepted(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	e.createTenant(alice, "media-co")

	r := e.do(req{method: http.MethodPost, path: "/tenants", token: alice, body: `{"slug":"ct","name":"X"}`, contentType: "text/plain"})
	requireProblem(t, r, http.StatusUnsupportedMediaType)
	if got := r.header.Get("Accept-Post"); got != "application/json" {
		t.Errorf("POST 415: Accept-Post %q", got)
	}
	if got := r.header.Get("Accept-Patch"); got != "" {
		t.Errorf("POST 415: Accept-Patch %q, which only describes PATCH", got)
	}

	r = e.do(req{method: http.MethodPatch, path: "/tenants/media-co", token: alice, body: `{"name":"T"}`, contentType: "text/plain"})
	requireProblem(t, r, http.StatusUnsupportedMediaType)
	if got := r.header.Get("Accept-Patch"); got != "application/merge-patch+json, application/json" {
		t.Errorf("PATCH 415: Accept-Patch %q", got)
	}
}
