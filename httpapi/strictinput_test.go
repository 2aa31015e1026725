package httpapi

import (
	"net/http"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// invalidUTF8 is a body whose name holds bytes that are not UTF-8 (encoding/json would store
// U+FFFD in their place).
var invalidUTF8 = `{"slug":"utf","name":"a` + string([]byte{0xff, 0xfe}) + `b"}`

// TestLaxInputIsRefused: input that encoding/json or the old validation let through, each
// refused with the right code, naming the field, writing nothing, on every route that reads a
// body of that kind. Each body is also a seed of FuzzCreateTenantBody or FuzzPatchTenantBody.
func TestLaxInputIsRefused(t *testing.T) {
	e := newEnv(t)
	alice, op := e.user("alice"), e.operator()
	e.createPartner("resell")
	e.createTenant(alice, "acme")
	post := func(body string) req { return req{method: http.MethodPost, path: "/tenants", token: alice, body: body} }
	postPartner := func(body string) req {
		return req{method: http.MethodPost, path: "/partners/resell/tenants", token: op, body: body}
	}
	patch := func(body string) req {
		return req{method: http.MethodPatch, path: "/tenants/acme", token: alice, body: body, contentType: "application/merge-patch+json"}
	}
	partner := func(body string) req { return req{method: http.MethodPost, path: "/partners", token: op, body: body} }
	patchPartner := func(body string) req {
		return req{method: http.MethodPatch, path: "/partners/resell", token: op, body: body, contentType: "application/merge-patch+json"}
	}
	cases := map[string]struct {
		reason string
		r      req
		want   int
		fields []string
	}{
		// Mail domains are DNS names.
		"domain IPv4":           {"an address is not a DNS name", post(`{"slug":"ip4","name":"X","mail":{"domain":"127.0.0.1"}}`), 422, []string{"mail.domain"}},
		"domain IPv4 public":    {"any address", post(`{"slug":"ip4","name":"X","mail":{"domain":"1.2.3.4"}}`), 422, []string{"mail.domain"}},
		"domain IPv6 literal":   {"a bracketed address literal", post(`{"slug":"ip6","name":"X","mail":{"domain":"[::1]"}}`), 422, []string{"mail.domain"}},
		"domain all numeric":    {"two numeric labels", post(`{"slug":"num","name":"X","mail":{"domain":"123.456"}}`), 422, []string{"mail.domain"}},
		"domain numeric TLD":    {"an all-numeric top-level label", post(`{"slug":"num","name":"X","mail":{"domain":"example.123"}}`), 422, []string{"mail.domain"}},
		"domain numeric label":  {"wildcard DNS maps numeric labels to addresses", post(`{"slug":"num","name":"X","mail":{"domain":"10.0.0.1.nip.io"}}`), 422, []string{"mail.domain"}},
		"partner domain IPv4":   {"the partner route validates alike", postPartner(`{"slug":"pip","name":"X","mail":{"domain":"127.0.0.1"}}`), 422, []string{"mail.domain"}},
		"patch domain IPv4":     {"PATCH validates alike", patch(`{"mail":{"domain":"127.0.0.1"}}`), 422, []string{"mail.domain"}},
		"patch domain numeric":  {"PATCH validates alike", patch(`{"mail":{"domain":"example.123"}}`), 422, []string{"mail.domain"}},
		"patch domain IPv6":     {"PATCH validates alike", patch(`{"mail":{"domain":"[::1]"}}`), 422, []string{"mail.domain"}},
		"domain kelvin sign":    {"only ASCII folds to lowercase", post(`{"slug":"kel","name":"X","mail":{"domain":"\u212acme.example"}}`), 422, []string{"mail.domain"}},
		"name bidi override":    {"U+202E reverses what follows", post(`{"slug":"bidi","name":"\u202eevil\u202c"}`), 422, []string{"name"}},
		"name bidi isolate":     {"U+2066..U+2069", post(`{"slug":"bidi","name":"a\u2066b\u2069"}`), 422, []string{"name"}},
		"name LRE":              {"U+202A", post(`{"slug":"bidi","name":"a\u202ab"}`), 422, []string{"name"}},
		"name zero width space": {"U+200B", post(`{"slug":"zwc","name":"ac\u200bme"}`), 422, []string{"name"}},
		"name ZWJ":              {"U+200D", post(`{"slug":"zwc","name":"ac\u200dme"}`), 422, []string{"name"}},
		"name BOM":              {"U+FEFF", post(`{"slug":"zwc","name":"\ufeffacme"}`), 422, []string{"name"}},
		"name word joiner":      {"U+2060", post(`{"slug":"zwc","name":"ac\u2060me"}`), 422, []string{"name"}},
		"name line separator":   {"U+2028", post(`{"slug":"lsep","name":"a\u2028b"}`), 422, []string{"name"}},
		"name para separator":   {"U+2029", post(`{"slug":"lsep","name":"a\u2029b"}`), 422, []string{"name"}},
		"name only invisible":   {"nothing but format characters", post(`{"slug":"inv","name":"\u200b\u200d\u2060"}`), 422, []string{"name"}},
		"name only fillers":     {"Hangul fillers show nothing", post(`{"slug":"inv","name":"\u3164"}`), 422, []string{"name"}},
		"partner route name":    {"the partner route validates alike", postPartner(`{"slug":"pbidi","name":"\u202eevil"}`), 422, []string{"name"}},
		"patch name bidi":       {"PATCH validates alike", patch(`{"name":"\u202eevil\u202c"}`), 422, []string{"name"}},
		"patch name zero width": {"PATCH validates alike", patch(`{"name":"\u200b"}`), 422, []string{"name"}},
		"partner name bidi":     {"partner names too", partner(`{"slug":"p-bidi","name":"\u202eevil\u202c"}`), 422, []string{"name"}},
		"partner patch name":    {"partner names too", patchPartner(`{"name":"a\u2028b"}`), 422, []string{"name"}},

		// Strict JSON.
		"invalid UTF-8":           {"bytes that are not UTF-8", post(invalidUTF8), 400, nil},
		"patch invalid UTF-8":     {"bytes that are not UTF-8", patch(`{"name":"a` + string([]byte{0xc3}) + `"}`), 400, nil},
		"partner invalid UTF-8":   {"bytes that are not UTF-8", partner(`{"slug":"p-utf","name":"` + string([]byte{0xed, 0xa0, 0x80}) + `"}`), 400, nil},
		"lone high surrogate":     {"\\ud800 alone", post(`{"slug":"sur","name":"\ud800"}`), 400, nil},
		"lone low surrogate":      {"\\udc00 then text", post(`{"slug":"sur","name":"\udc00x"}`), 400, nil},
		"reversed surrogates":     {"low before high", post(`{"slug":"sur","name":"\udc00\ud800"}`), 400, nil},
		"high then high":          {"a high surrogate needs a low one next", post(`{"slug":"sur","name":"\ud800\ud800"}`), 400, nil},
		"surrogate in key":        {"member names are strings too", post(`{"slug":"sur","name":"X","\ud800":1}`), 400, nil},
		"patch lone surrogate":    {"PATCH is strict too", patch(`{"name":"\ud83d"}`), 400, nil},
		"partner lone surrogate":  {"partner bodies too", partner(`{"slug":"p-sur","name":"\udfff"}`), 400, nil},
		"duplicate key":           {"the last one would win", post(`{"name":"a","name":"b","slug":"dup"}`), 400, []string{"name"}},
		"duplicate slug key":      {"two slugs, one request", post(`{"slug":"dup-a","name":"X","slug":"dup-b"}`), 400, []string{"slug"}},
		"duplicate nested key":    {"inside mail", post(`{"slug":"dup","name":"X","mail":{"domain":"a.example","domain":"b.example"}}`), 400, []string{"mail.domain"}},
		"duplicate escaped key":   {"names compare unescaped", post(`{"slug":"dup","name":"X","n\u0061me":"Y"}`), 400, []string{"name"}},
		"duplicate unknown key":   {"at any depth, known or not", post(`{"slug":"dup","name":"X","x":{"y":[{"z":1,"z":2}]}}`), 400, []string{"x.y[0].z"}},
		"partner route duplicate": {"the partner route is strict too", postPartner(`{"slug":"pdup","name":"X","name":"Y"}`), 400, []string{"name"}},
		"patch duplicate key":     {"PATCH is strict too", patch(`{"name":"a","name":"b"}`), 400, []string{"name"}},
		"patch duplicate nested":  {"PATCH is strict too", patch(`{"mail":{"domain":"a.example","domain":"b.example"}}`), 400, []string{"mail.domain"}},
		"partner duplicate key":   {"partner create", partner(`{"slug":"p-dup","name":"A","name":"B"}`), 400, []string{"name"}},
		"partner patch duplicate": {"partner patch", patchPartner(`{"status":"active","status":"suspended"}`), 400, []string{"status"}},
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

// TestStrictJSONKeepsWhatIsValid: what the strict checks must not refuse: a surrogate pair
// (an emoji written as escapes), escaped backslashes before a u, a literal U+FFFD, the same
// member name in different objects, and a domain spelled in capitals (stored lowercase).
func TestStrictJSONKeepsWhatIsValid(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice")
	cases := map[string]struct {
		body       string
		name, mail string
	}{
		"surrogate pair":    {`{"slug":"pair","name":"Acme \ud83d\ude00"}`, "Acme 😀", ""},
		"escaped backslash": {`{"slug":"bsl","name":"a\\ud800"}`, `a\ud800`, ""},
		"replacement char":  {`{"slug":"fffd","name":"a` + "\uFFFD" + `\ufffd"}`, "a\uFFFD\uFFFD", ""},
		"same name nested":  {`{"slug":"nest","name":"N","mail":{"domain":"nest.example"},"storage":{"quotaBytes":1}}`, "N", "nest.example"},
		"capital domain":    {`{"slug":"caps","name":"C","mail":{"domain":"Caps.EXAMPLE"}}`, "C", "caps.example"},
		"umlaut name":       {`{"slug":"uml","name":"Bäckerei Müller"}`, "Bäckerei Müller", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.post("/tenants", alice, tc.body)
			if r.code != http.StatusCreated {
				t.Fatalf("%d %s", r.code, r.body)
			}
			v := r.obj(t)
			if got := dig(v, "spec", "name"); got != tc.name {
				t.Errorf("name %q, want %q", got, tc.name)
			}
			if tc.mail != "" && dig(v, "spec", "mail", "domain") != tc.mail {
				t.Errorf("mail.domain %v, want %q", dig(v, "spec", "mail", "domain"), tc.mail)
			}
			stored, err := e.st.GetTenant(t.Context(), dig(v, "metadata", "slug").(string))
			if err != nil {
				t.Fatal(err)
			}
			if stored.Spec.Name != tc.name || (tc.mail != "" && stored.Spec.Mail.Domain != tc.mail) {
				t.Errorf("stored spec %+v", stored.Spec)
			}
		})
	}
}
