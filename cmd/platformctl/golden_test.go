package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/dezky/platform-api/internal/platformclient"
)

// The golden tenants belong to a subject of their own, so `get tenants` with its token lists
// exactly them whatever else the tests create; nothing but the fixture writes to them.
const goldenSubject = "golden-user"

// goldenSet is the state the golden files describe.
type goldenSet struct {
	ready   bool
	token   string
	tenants map[string]*platformclient.Tenant
	// now is the clock the golden output is rendered against (see goldenClock).
	now time.Time
	// diffObserveOnly is `diff initech`, captured by the fixture: running it again would write
	// a new drift-check token and move the tenant's resourceVersion under the other files.
	diffObserveOnly result
}

var (
	goldenOnce sync.Once
	golden     goldenSet
)

// goldenFixtures creates, once per test binary, three tenants through platformctl itself and
// waits until the controller has settled them:
//   - northwind: Full, standard plan, mail domain: Active, every step ok, a drift check in sync;
//   - globex: business plan, a storage quota override, no mail (stalwart skipped): Active;
//   - initech: ObserveOnly with a mail quota override: nothing exists upstream, so every step is
//     pending with its drift, and a drift check that found it.
func goldenFixtures(t *testing.T) goldenSet {
	t.Helper()
	goldenOnce.Do(func() {
		tok := subjectToken(t, goldenSubject)
		in := invocation{token: tok}
		in.mustCtl(t, exitOK, "create", "tenant", "northwind", "--name", "Northwind Traders", "--plan", "standard", "--mail-domain", "northwind.example")
		in.mustCtl(t, exitOK, "create", "tenant", "--slug", "globex", "--name", "Globex Corporation", "--plan", "business", "--storage-quota", "2Ti")
		in.mustCtl(t, exitOK, "create", "tenant", "initech", "--name", "Initech", "--policy", "ObserveOnly",
			"--mail-domain", "initech.example", "--mail-quota", "10Gi")
		waitReady(t, tok, "northwind")
		waitReady(t, tok, "globex")
		eventually(t, 30*time.Second, "initech observed", func() bool {
			s := getTenant(t, tok, "initech").Status
			c := s.Condition("Synced")
			return c != nil && c.Reason == "ObserveOnly" && len(s.Steps["ocis"].Drift) > 0
		})
		in.mustCtl(t, exitOK, "diff", "northwind")
		golden.diffObserveOnly = in.mustCtl(t, exitFailed, "diff", "initech")

		golden.token = tok
		golden.tenants = map[string]*platformclient.Tenant{}
		for _, slug := range []string{"northwind", "globex", "initech"} {
			golden.tenants[slug] = getTenant(t, tok, slug)
		}
		golden.now = goldenClock(golden.tenants["northwind"].Metadata.CreatedAt)
		golden.ready = true
	})
	if !golden.ready {
		t.Fatal("the golden tenants could not be set up (see the first test that failed)")
	}
	return golden
}

// goldenClock is the "now" golden output is rendered against: 2h30m after the first golden
// tenant was created. Everything the fixture makes happen (creation, conditions, step
// transitions, events, drift checks) happens within seconds of that, so every age is between
// 2h and 2h30m and renders "2h" on any machine, however slow. The age arithmetic itself is
// covered by TestShortDuration.
func goldenClock(anchor time.Time) time.Time { return anchor.Add(2*time.Hour + 30*time.Minute) }

// volatile lists the values of one golden tenant that differ from run to run (its uid, the
// upstream ids, the request tokens, the creation time) with the placeholder each is replaced
// by. Every such value is printed in the last column of its line, so replacing it cannot
// disturb the alignment of anything else the golden files check.
func volatile(tn *platformclient.Tenant) map[string]string {
	v := map[string]string{
		tn.Metadata.UID: "<uid>",
		tn.Metadata.CreatedAt.UTC().Format(time.RFC3339): "<created>",
	}
	for name, s := range tn.Status.Steps {
		if s.ExternalID != "" {
			v[s.ExternalID] = "<" + name + "-id>"
		}
	}
	for _, k := range []string{"reconcileRequestedAt", "driftCheckRequestedAt"} {
		if tok := tn.Metadata.Annotations[k]; tok != "" {
			v[tok] = "<" + k + ">"
		}
	}
	return v
}

// normalise replaces each volatile value where it stands as a whole word (after a space, "="
// or "(" and before a space, ")" or the line's end): stalwart's ids are short ("d") and must
// not be replaced inside other words.
func normalise(out string, values map[string]string) string {
	// Longest first, so a value that contains another is replaced whole.
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return len(b) - len(a) })
	for _, k := range keys {
		re := regexp.MustCompile(`(?m)(^|[ =(])` + regexp.QuoteMeta(k) + `([ )]|$)`)
		out = re.ReplaceAllString(out, "${1}"+strings.ReplaceAll(values[k], "$", "$$")+"${2}")
	}
	return out
}

// checkGolden compares got with testdata/name.golden, or rewrites the file with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	if strings.Contains(got, "\x1b") {
		t.Errorf("%s: output has ANSI escape codes although stdout is not a terminal:\n%q", name, got)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from %s (-want +got):\n%s", name, path, diff)
	}
}

// The table output of get and describe against the settled golden tenants, rendered at the
// golden clock, with volatile values replaced by placeholders.
func TestGoldenOutput(t *testing.T) {
	g := goldenFixtures(t)
	in := invocation{token: g.token, now: func() time.Time { return g.now }}
	all := map[string]string{}
	for _, tn := range g.tenants {
		for k, v := range volatile(tn) {
			all[k] = v
		}
	}
	cases := map[string]struct {
		args []string
		want int
	}{
		"get_tenants":                  {args: []string{"get", "tenants"}},
		"get_tenants_wide":             {args: []string{"get", "tenants", "-o", "wide"}},
		"get_tenants_phase_pending":    {args: []string{"get", "tenants", "--phase", "pending"}},
		"get_tenant":                   {args: []string{"get", "tenant", "northwind"}},
		"describe_tenant":              {args: []string{"describe", "tenant", "northwind"}},
		"describe_tenant_no_mail":      {args: []string{"describe", "tenant", "globex"}},
		"describe_tenant_observe_only": {args: []string{"describe", "tenant", "initech"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := in.mustCtl(t, tc.want, tc.args...)
			if r.stderr != "" {
				t.Errorf("stderr not empty: %q", r.stderr)
			}
			checkGolden(t, name, normalise(r.stdout, all))
		})
	}
	t.Run("diff_observe_only", func(t *testing.T) {
		checkGolden(t, "diff_observe_only", normalise(g.diffObserveOnly.stdout, all))
	})
}

// -o json prints the API's own documents: a list in the API's list shape with every page's
// items, and a tenant exactly as GET /tenants/{slug} returns it.
func TestOutputJSONAndYAML(t *testing.T) {
	g := goldenFixtures(t)
	in := invocation{token: g.token}

	var list struct {
		Items      []platformclient.Tenant `json:"items"`
		NextCursor *string                 `json:"nextCursor"`
	}
	decodeJSON(t, in.mustCtl(t, exitOK, "get", "tenants", "-o", "json").stdout, &list)
	var slugs []string
	for _, it := range list.Items {
		slugs = append(slugs, it.Metadata.Slug)
	}
	slices.Sort(slugs)
	if diff := cmp.Diff([]string{"globex", "initech", "northwind"}, slugs); diff != "" {
		t.Errorf("get tenants -o json items (-want +got):\n%s", diff)
	}
	if list.NextCursor != nil {
		t.Errorf("nextCursor = %q, want null: every page was read", *list.NextCursor)
	}

	jsonOut := in.mustCtl(t, exitOK, "get", "tenant", "northwind", "-o", "json").stdout
	var got, api any
	decodeJSON(t, jsonOut, &got)
	tn, err := client(t, g.token).GetTenant(context.Background(), "northwind")
	if err != nil {
		t.Fatal(err)
	}
	decodeJSON(t, string(tn.Raw), &api)
	if diff := cmp.Diff(api, got); diff != "" {
		t.Errorf("get tenant -o json is not what the API returned (-api +platformctl):\n%s", diff)
	}

	yamlOut := in.mustCtl(t, exitOK, "get", "tenant", "northwind", "-o", "yaml").stdout
	asJSON, err := yaml.YAMLToJSON([]byte(yamlOut))
	if err != nil {
		t.Fatalf("-o yaml does not parse: %v\n%s", err, yamlOut)
	}
	var fromYAML any
	if err := json.Unmarshal(asJSON, &fromYAML); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(api, fromYAML); diff != "" {
		t.Errorf("get tenant -o yaml is not what the API returned (-api +platformctl):\n%s", diff)
	}
}

// get tenants reads every page: one tenant per request gives the same table as one request,
// and every request after the first carries the previous page's cursor.
func TestGetTenantsPages(t *testing.T) {
	g := goldenFixtures(t)
	rec := newRecorder(t)
	in := invocation{server: rec.URL, token: g.token, now: func() time.Time { return g.now }}
	whole := in.mustCtl(t, exitOK, "get", "tenants").stdout
	before := len(rec.requests("GET", "/tenants"))
	paged := in.mustCtl(t, exitOK, "get", "tenants", "--chunk-size", "1").stdout
	if paged != whole {
		t.Errorf("--chunk-size 1 output differs:\n%s\nwant:\n%s", paged, whole)
	}
	reqs := rec.requests("GET", "/tenants")[before:]
	if len(reqs) < 3 {
		t.Fatalf("%d requests for 3 tenants one per page, want at least 3", len(reqs))
	}
	for i, r := range reqs {
		q := r.URL.Query()
		if q.Get("limit") != "1" {
			t.Errorf("request %d: limit=%q, want 1", i, q.Get("limit"))
		}
		if hasCursor := q.Get("cursor") != ""; hasCursor != (i > 0) {
			t.Errorf("request %d: cursor %q", i, q.Get("cursor"))
		}
	}
}
