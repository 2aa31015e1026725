package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

const (
	dashboardFile = "grafana/platform-api.json"
	alertsFile    = "prometheus/alerts.yaml"
	deployREADME  = "README.md"
)

// metricContract is what platform-api exports (the Metrics table of deploy/README.md): each
// family's type and label names. The dashboard and the alerts may query only these, and the live test
// checks the running service against the same table.
var metricContract = map[string]struct {
	typ    string // counter, gauge or histogram
	labels []string
}{
	"platform_reconcile_total":                   {"counter", []string{"result"}},
	"platform_reconcile_duration_seconds":        {"histogram", nil},
	"platform_step_total":                        {"counter", []string{"state", "step"}},
	"platform_workqueue_depth":                   {"gauge", nil},
	"platform_workqueue_retries_total":           {"counter", nil},
	"platform_watch_restarts_total":              {"counter", nil},
	"platform_resync_last_timestamp_seconds":     {"gauge", nil},
	"platform_leader":                            {"gauge", nil},
	"platform_watch_source":                      {"gauge", []string{"source"}},
	"platform_http_requests_total":               {"counter", []string{"code", "method", "route"}},
	"platform_http_request_duration_seconds":     {"histogram", []string{"method", "route"}},
	"platform_drift_total":                       {"counter", []string{"field", "step"}},
	"platform_upstream_requests_total":           {"counter", []string{"outcome", "upstream"}},
	"platform_upstream_request_duration_seconds": {"histogram", []string{"upstream"}},
	"platform_tenants":                           {"gauge", []string{"phase"}},
}

// labelValues are the documented values of the enumerated labels; a query comparing one of
// these labels with any other value can never match.
var labelValues = map[string][]string{
	"result": {"success", "step_error", "error"},
	"state":  {"ok", "skipped", "error", "pending"},
	"step":   {"authentik", "stalwart", "ocis"},
	"source": {"changestream", "poll"},
	"phase":  {"Pending", "Active", "Degraded", "Suspended", "Deleting"},
}

// targetLabels are attached by Prometheus to every scraped series (job and instance always; the
// rest by the Prometheus Operator's Kubernetes service discovery), so queries may use them
// although /metrics never shows them.
var targetLabels = []string{"job", "instance", "namespace", "pod", "service", "endpoint", "container"}

// query is one PromQL expression of the dashboard or the alert rules.
type query struct {
	where string // panel or alert, for messages
	text  string
	expr  parser.Expr
}

var promql = parser.NewParser(parser.Options{})

// grafanaVar matches Grafana's variable references, $name or ${name}.
var grafanaVar = regexp.MustCompile(`\$\{?(\w+)\}?`)

// grafanaValues stand in for the dashboard's variables so that its queries parse as PromQL.
var grafanaValues = map[string]string{
	"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "job": "platform-api",
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int     `json:"id"`
	Type       string  `json:"type"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"` // a collapsed row's panels
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// dashboardQueries reads the dashboard, checks its shape (unique panel ids, panels inside the
// 24-column grid, every panel on the datasource variable) and parses every query.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(readFile(t, dashboardFile), &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("%s: uid %q, title %q, schemaVersion %d: all required for import", dashboardFile, d.UID, d.Title, d.SchemaVersion)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	for name := range grafanaValues {
		if !strings.HasPrefix(name, "__") && !vars[name] {
			t.Errorf("the test substitutes $%s, which the dashboard does not define", name)
		}
	}
	var out []query
	parse := func(where, text string) {
		substituted := grafanaVar.ReplaceAllStringFunc(text, func(m string) string {
			name := grafanaVar.FindStringSubmatch(m)[1]
			v, ok := grafanaValues[name]
			if !ok {
				t.Errorf("%s: unknown variable $%s in %q", where, name, text)
			}
			return v
		})
		expr, err := promql.ParseExpr(substituted)
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", where, text, err)
			return
		}
		out = append(out, query{where, text, expr})
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Errorf("variable %s: %v", v.Name, err)
			continue
		}
		// label_values(metric, label) is Grafana's, not PromQL: check its metric selector.
		m := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`).FindStringSubmatch(q.Query)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(metric, label)", v.Name, q.Query)
			continue
		}
		parse("variable "+v.Name, m[1])
	}
	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if prev, dup := ids[p.ID]; dup || p.ID == 0 {
				t.Errorf("%s: id not unique (also %q)", where, prev)
			}
			ids[p.ID] = p.Title
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: gridPos %+v outside the 24-column grid", where, p.GridPos)
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("%s: datasource %+v, want the ${datasource} variable", where, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no query", where)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if refs[tg.RefID] || tg.RefID == "" {
					t.Errorf("%s: refId %q missing or repeated", where, tg.RefID)
				}
				refs[tg.RefID] = true
				parse(where, tg.Expr)
			}
		}
	}
	walk(d.Panels)
	return out
}

// alertRules validates alerts.yaml's rules with Prometheus's own loader (as `promtool check
// rules` does: unknown fields, durations, templates and PromQL) and returns them.
func alertRules(t *testing.T) []rulefmt.Rule {
	t.Helper()
	var pr prometheusRule
	decodeStrictYAML(t, alertsFile, &pr)
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Fatalf("%s is a %s %s, want a monitoring.coreos.com/v1 PrometheusRule", alertsFile, pr.APIVersion, pr.Kind)
	}
	// The spec is a plain rules file (JSON is YAML).
	groups, errs := rulefmt.Parse(pr.Spec, false, model.LegacyValidation, promql, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, err := range errs {
		t.Errorf("%s: %v", alertsFile, err)
	}
	if groups == nil {
		t.FailNow()
	}
	var rules []rulefmt.Rule
	for _, g := range groups.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

func alertQueries(t *testing.T) []query {
	t.Helper()
	var out []query
	for _, r := range alertRules(t) {
		expr, err := promql.ParseExpr(r.Expr)
		if err != nil {
			t.Errorf("alert %s: %v", r.Alert, err)
			continue
		}
		out = append(out, query{"alert " + r.Alert, r.Expr, expr})
	}
	return out
}

// TestAlertRules: the alerts the runbooks describe exist with their thresholds' durations, a
// severity, and a runbook link to a section of deploy/README.md.
func TestAlertRules(t *testing.T) {
	want := map[string]string{ // alert → its `for`
		"PlatformAPINoLeader":        "1m",
		"PlatformAPIMultipleLeaders": "2m",
		"PlatformAPIResyncStale":     "5m",
		"PlatformAPITenantsNotReady": "30m",
		"PlatformAPIReconcileErrors": "15m",
		"PlatformAPIWatchRestarts":   "0s",
	}
	readme := string(readFile(t, deployREADME))
	got := map[string]string{}
	for _, r := range alertRules(t) {
		got[r.Alert] = r.For.String()
		if sev := r.Labels["severity"]; sev != "critical" && sev != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", r.Alert, sev)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: summary and description annotations required", r.Alert)
		}
		anchor := strings.ToLower(r.Alert)
		if !strings.HasSuffix(r.Annotations["runbook_url"], "/deploy/README.md#"+anchor) {
			t.Errorf("%s: runbook_url %q does not point at deploy/README.md#%s", r.Alert, r.Annotations["runbook_url"], anchor)
		}
		if !strings.Contains(readme, "\n### "+r.Alert+"\n") {
			t.Errorf("%s: deploy/README.md has no runbook section \"### %s\"", r.Alert, r.Alert)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alerts and their `for` (-want +got):\n%s", diff)
	}
}

// TestQueriesUseContractMetrics: every dashboard and alert query parses and uses only metrics,
// labels and label values of the contract; the dashboard shows every metric the service
// exports.
func TestQueriesUseContractMetrics(t *testing.T) {
	exported := map[string]family{}
	for name, c := range metricContract {
		exported[name] = family{typ: c.typ, labels: c.labels}
	}
	dash := dashboardQueries(t)
	checkQueries(t, append(dash, alertQueries(t)...), exported)

	shown := map[string]bool{}
	for _, q := range dash {
		for _, vs := range selectors(q.expr) {
			shown[baseName(vs.Name, exported)] = true
		}
	}
	for name := range metricContract {
		if !shown[name] {
			t.Errorf("the dashboard shows no panel of %s", name)
		}
	}
}

// family is one exported metric family: its type and the label names its series carry.
type family struct {
	typ    string
	labels []string
}

// checkQueries checks every metric a query selects against the exported families: the name
// (a histogram's _bucket, _sum and _count series included), every label matched, grouped by or
// joined on, and the values compared with enumerated labels.
func checkQueries(t *testing.T, queries []query, exported map[string]family) {
	t.Helper()
	for _, q := range queries {
		known := slices.Clone(targetLabels)
		complete := true
		for _, vs := range selectors(q.expr) {
			name := vs.Name
			base := baseName(name, exported)
			f, ok := exported[base]
			if !ok {
				t.Errorf("%s: %s is not an exported metric (query %q)", q.where, name, q.text)
				complete = false
				continue
			}
			if name != base && f.typ != "histogram" {
				t.Errorf("%s: %s: %s is a %s, it has no %s series", q.where, name, base, f.typ, strings.TrimPrefix(name, base))
			}
			allowed := append(slices.Clone(targetLabels), f.labels...)
			if strings.HasSuffix(name, "_bucket") {
				allowed = append(allowed, "le")
			}
			known = append(known, allowed...)
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					continue
				}
				if !slices.Contains(allowed, m.Name) {
					t.Errorf("%s: %s has no label %q (it has %v)", q.where, base, m.Name, f.labels)
				}
				checkLabelValues(t, q.where, m)
			}
		}
		// Labels an aggregation keeps or a join matches on must exist on what it reads (known
		// only when every metric it reads is).
		if !complete {
			continue
		}
		parser.Inspect(q.expr, func(n parser.Node, _ []parser.Node) error {
			var used []string
			switch e := n.(type) {
			case *parser.AggregateExpr:
				used = e.Grouping
			case *parser.BinaryExpr:
				if e.VectorMatching != nil {
					used = append(slices.Clone(e.VectorMatching.MatchingLabels), e.VectorMatching.Include...)
				}
			}
			for _, l := range used {
				if !slices.Contains(known, l) {
					t.Errorf("%s: groups or joins by %q, a label none of its metrics has (query %q)", q.where, l, q.text)
				}
			}
			return nil
		})
	}
}

// checkLabelValues: an equality or a plain alternation on an enumerated label names only its
// documented values.
func checkLabelValues(t *testing.T, where string, m *labels.Matcher) {
	t.Helper()
	values, ok := labelValues[m.Name]
	if !ok {
		return
	}
	var compared []string
	switch m.Type {
	case labels.MatchEqual, labels.MatchNotEqual:
		compared = []string{m.Value}
	case labels.MatchRegexp, labels.MatchNotRegexp:
		if !regexp.MustCompile(`^[\w|]+$`).MatchString(m.Value) {
			return // a real pattern: nothing simple to compare
		}
		compared = strings.Split(m.Value, "|")
	}
	for _, v := range compared {
		if !slices.Contains(values, v) {
			t.Errorf("%s: %s=%q is not one of its values %v", where, m.Name, v, values)
		}
	}
}

// selectors lists the vector selectors of an expression.
func selectors(e parser.Expr) []*parser.VectorSelector {
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

// baseName maps a histogram's series name (_bucket, _sum, _count) to its family's name.
func baseName(name string, exported map[string]family) string {
	if _, ok := exported[name]; ok {
		return name
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if _, ok := exported[base]; ok {
				return base
			}
		}
	}
	return name
}

// sortedNames is the sorted key list of a family map, for messages.
func sortedNames(m map[string]family) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
