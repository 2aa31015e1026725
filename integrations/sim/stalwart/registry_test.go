package stalwartsim_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
)

// with returns a copy of base with the given keys replaced (nil deletes).
func with(base m, kv ...any) m {
	out := m{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// setErrorOf creates obj with typ/set and returns the SetError (nil when created).
func setErrorOf(t *testing.T, res map[string][2]any) m {
	t.Helper()
	a := args(t, res, "c")
	nc, _ := a["notCreated"].(m)
	if nc == nil {
		return nil
	}
	return nc["x"].(m)
}

// TestDomainCreateRules pins what x:Domain/set create accepts: the schema's declared properties
// with Stalwart's encodings, the reference pages' required fields, valid unique names.
func TestDomainCreateRules(t *testing.T) {
	sim, srv := newServer(t, stalwartsim.Options{})
	existing := mustCreate(t, srv, "x:Domain", with(domainCreate("taken.example"), "aliases", m{"alias.example": true}))
	cases := map[string]struct {
		reason string
		obj    m
		want   m // the SetError, nil when created
	}{
		"Created": {"a complete, valid domain", domainCreate("new.example"), nil},
		"Duplicate": {"names are unique; the existing id comes back",
			domainCreate("TAKEN.example"),
			m{"type": "primaryKeyViolation", "properties": []any{"name"}, "objectId": m{"object": "Domain", "id": existing}}},
		"AliasTaken": {"a name equal to another domain's alias is taken", domainCreate("alias.example"),
			m{"type": "primaryKeyViolation", "properties": []any{"name"}, "objectId": m{"object": "Domain", "id": existing}}},
		"InvalidName": {"the name must be a host name", domainCreate("not a domain"),
			m{"type": "invalidPatch", "description": "Invalid domain name", "properties": []any{"name"}}},
		"UnknownProperty": {"undeclared properties are rejected", with(domainCreate("u.example"), "owner", "x"),
			m{"type": "invalidPatch", "description": "Invalid property", "properties": []any{"owner"}}},
		"ServerSet": {"server-set properties cannot be written", with(domainCreate("s.example"), "createdAt", "2026-01-01T00:00:00Z"),
			m{"type": "invalidPatch", "description": "Cannot modify server set property", "properties": []any{"createdAt"}}},
		"SetAsArray": {"a Set is an object of members, not an array", with(domainCreate("a.example"), "aliases", []any{"b.example"}),
			m{"type": "invalidPatch", "description": "Invalid value for object property", "properties": []any{"aliases"}}},
		"BadVariant": {"a variant object needs a known @type", with(domainCreate("v.example"), "dnsManagement", m{"@type": "Magic"}),
			m{"type": "invalidPatch", "description": "Invalid or missing @type", "properties": []any{"dnsManagement/@type"}}},
		"VariantField": {"a field-less variant takes no fields", with(domainCreate("w.example"), "dnsManagement", m{"@type": "Manual", "x": 1}),
			m{"type": "invalidPatch", "description": "Invalid property", "properties": []any{"dnsManagement/x"}}},
		"Required": {"domain.md marks the management fields required", with(domainCreate("r.example"), "dkimManagement", nil),
			m{"type": "validationFailed", "validationErrors": []any{m{"type": "Required", "property": "dkimManagement"}}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := jmap(t, srv, call{"x:Domain/set", m{"create": m{"x": tc.obj}}, "c"})
			if diff := cmp.Diff(tc.want, setErrorOf(t, res)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
	if d, ok := sim.DomainByName("taken.example"); !ok || d.ID != existing {
		t.Errorf("the existing domain changed: %+v", d)
	}
}

// TestAccountRules pins x:Account/set: a Group needs an existing domain, name@domain is unique
// across accounts, quotas are a Map keyed by StorageQuota and patchable by JSON pointer.
func TestAccountRules(t *testing.T) {
	sim, srv := newServer(t, stalwartsim.Options{})
	dom := mustCreate(t, srv, "x:Domain", domainCreate("acct.example"))
	group := mustCreate(t, srv, "x:Account", groupCreate("team", dom))

	res := jmap(t, srv, call{"x:Account/set", m{"create": m{"x": groupCreate("Team", dom)}}, "c"})
	if diff := cmp.Diff(m{"type": "primaryKeyViolation", "properties": []any{"name"},
		"objectId": m{"object": "Account", "id": group}}, setErrorOf(t, res)); diff != "" {
		t.Errorf("duplicate address (-want +got):\n%s", diff)
	}
	res = jmap(t, srv, call{"x:Account/set", m{"create": m{"x": groupCreate("other", "zzz")}}, "c"})
	if diff := cmp.Diff(m{"type": "invalidForeignKey", "objectId": m{"object": "Domain", "id": "zzz"}},
		setErrorOf(t, res)); diff != "" {
		t.Errorf("unknown domain (-want +got):\n%s", diff)
	}
	res = jmap(t, srv, call{"x:Account/set", m{"create": m{"x": with(groupCreate("g2", dom), "@type", nil)}}, "c"})
	if got := setErrorOf(t, res)["type"]; got != "invalidPatch" {
		t.Errorf("an Account without @type: got %v, want invalidPatch", got)
	}
	res = jmap(t, srv, call{"x:Account/set", m{"create": m{"x": with(groupCreate("g3", dom), "credentials", m{})}}, "c"})
	if got := setErrorOf(t, res); got["type"] != "invalidPatch" || got["description"] != "Invalid property" {
		t.Errorf("a Group has no credentials (User-only field): got %v", got)
	}

	res = jmap(t, srv, call{"x:Account/set", m{"update": m{
		group: m{"quotas/maxDiskQuota": 4096, "description": "hello"},
	}}, "u"}, call{"x:Account/set", m{"update": m{
		group: m{"quotas/notAQuota": 1},
	}}, "bad"}, call{"x:Account/set", m{"update": m{"nope": m{"description": "x"}}}, "missing"})
	if _, ok := args(t, res, "u")["updated"].(m)[group]; !ok {
		t.Errorf("quota patch not applied: %v", args(t, res, "u"))
	}
	if got := args(t, res, "bad")["notUpdated"].(m)[group].(m)["type"]; got != "invalidPatch" {
		t.Errorf("unknown quota key: got %v, want invalidPatch", got)
	}
	if got := args(t, res, "missing")["notUpdated"].(m)["nope"].(m)["type"]; got != "notFound" {
		t.Errorf("update of a missing account: got %v, want notFound", got)
	}
	acc := sim.Accounts()[0]
	if diff := cmp.Diff(stalwartsim.Account{ID: group, Type: "Group", Name: "team", DomainID: dom,
		Description: "hello", MaxDiskQuota: 4096, HasDiskQuota: true}, acc); diff != "" {
		t.Errorf("stored account (-want +got):\n%s", diff)
	}
}

// TestDestroyRules pins objectIsLinked (a domain with accounts or DKIM signatures cannot go) and
// notFound, and that the teardown order account → signatures → domain succeeds.
func TestDestroyRules(t *testing.T) {
	sim, srv := newServer(t, stalwartsim.Options{})
	dom := mustCreate(t, srv, "x:Domain", with(domainCreate("gone.example"), "dkimManagement", m{"@type": "Automatic"}))
	group := mustCreate(t, srv, "x:Account", groupCreate("team", dom))
	if sim.DkimSignatureCount() != 2 {
		t.Fatalf("automatic DKIM generated %d signatures, want 2", sim.DkimSignatureCount())
	}
	res := jmap(t, srv, call{"x:Domain/set", m{"destroy": []string{dom, "missing"}}, "d"})
	nd := args(t, res, "d")["notDestroyed"].(m)
	linked := nd[dom].(m)
	if linked["type"] != "objectIsLinked" || len(linked["linkedObjects"].([]any)) != 3 ||
		linked["linkedObjects"].([]any)[0].(m)["object"] != "Account" {
		t.Errorf("linked domain: %v", linked)
	}
	if nd["missing"].(m)["type"] != "notFound" {
		t.Errorf("missing domain: %v", nd["missing"])
	}
	res = jmap(t, srv,
		call{"x:Account/set", m{"destroy": []string{group}}, "a"},
		call{"x:DkimSignature/query", m{"filter": m{"domainId": dom}}, "k"},
		call{"x:DkimSignature/set", m{"#destroy": m{"resultOf": "k", "name": "x:DkimSignature/query", "path": "/ids"}}, "s"},
		call{"x:Domain/set", m{"destroy": []string{dom}}, "d"},
	)
	if got := args(t, res, "d")["destroyed"]; !cmp.Equal(got, []any{dom}) {
		t.Errorf("teardown: domain destroyed = %v, responses %v", got, res)
	}
	if sim.DomainCount()+sim.AccountCount()+sim.DkimSignatureCount() != 0 {
		t.Errorf("objects left: %d domains, %d accounts, %d signatures", sim.DomainCount(), sim.AccountCount(), sim.DkimSignatureCount())
	}
}

// TestQueryPaging pins /query: text match on name, position/limit paging capped by the server,
// calculateTotal, and /get of a referenced page.
func TestQueryPaging(t *testing.T) {
	_, srv := newServer(t, stalwartsim.Options{QueryMaxResults: 2, MaxObjectsInGet: 2})
	for _, n := range []string{"a.paging.example", "paging.example", "b.paging.example", "other.example"} {
		mustCreate(t, srv, "x:Domain", domainCreate(n))
	}
	names := func(res map[string][2]any) []any {
		var out []any
		for _, o := range args(t, res, "g")["list"].([]any) {
			out = append(out, o.(m)["name"])
		}
		return out
	}
	page := func(pos int) map[string][2]any {
		return jmap(t, srv,
			call{"x:Domain/query", m{"filter": m{"name": "paging.example"}, "position": pos, "limit": 10, "calculateTotal": true}, "q"},
			call{"x:Domain/get", m{"#ids": m{"resultOf": "q", "name": "x:Domain/query", "path": "/ids"}, "properties": []string{"name"}}, "g"})
	}
	p0, p1 := page(0), page(2)
	q0 := args(t, p0, "q")
	got := m{"total": q0["total"], "limit": q0["limit"], "page0": names(p0), "page1": names(p1),
		"p1pos": args(t, p1, "q")["position"]}
	want := m{"total": float64(3), "limit": float64(2),
		"page0": []any{"a.paging.example", "paging.example"}, "page1": []any{"b.paging.example"}, "p1pos": float64(2)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paging (-want +got):\n%s", diff)
	}
	res := jmap(t, srv, call{"x:Domain/get", m{"ids": []string{"a", "b", "c"}}, "g"})
	if res["g"][0] != "error" || res["g"][1].(m)["type"] != "requestTooLarge" {
		t.Errorf("get above maxObjectsInGet: %v", res["g"])
	}
}

// TestSetLimit pins maxObjectsInSet.
func TestSetLimit(t *testing.T) {
	_, srv := newServer(t, stalwartsim.Options{MaxObjectsInSet: 1})
	res := jmap(t, srv, call{"x:Domain/set", m{"create": m{"x": domainCreate("one.example"), "y": domainCreate("two.example")}}, "c"})
	if res["c"][0] != "error" || res["c"][1].(m)["type"] != "requestTooLarge" {
		t.Errorf("set above maxObjectsInSet: %v", res["c"])
	}
}

// TestGetDefaults pins that /get shows schema defaults for unset properties and the server-set
// emailAddress of an account.
func TestGetDefaults(t *testing.T) {
	_, srv := newServer(t, stalwartsim.Options{})
	dom := mustCreate(t, srv, "x:Domain", domainCreate("defaults.example"))
	acc := mustCreate(t, srv, "x:Account", groupCreate("team", dom))
	res := jmap(t, srv,
		call{"x:Domain/get", m{"ids": []string{dom}, "properties": []string{"isEnabled", "description"}}, "d"},
		call{"x:Account/get", m{"ids": []string{acc}, "properties": []string{"emailAddress", "@type"}}, "a"})
	got := m{"d": args(t, res, "d")["list"], "a": args(t, res, "a")["list"]}
	want := m{
		"d": []any{m{"id": dom, "isEnabled": true, "description": nil}},
		"a": []any{m{"id": acc, "emailAddress": "team@defaults.example", "@type": "Group"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}
}
