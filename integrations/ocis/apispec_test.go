package ocis_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/apispec"
	"github.com/dezky/platform-api/integrations/integrationstest"
	"github.com/dezky/platform-api/integrations/sim/faults"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
)

const specFile = "libre-graph-api-v1.0.yaml"

// TestRequestsFollowTheAPIDocument runs every path of the step (create, stable, adoption by
// marker, drift repairs, suspend, resume, delete) and validates each request sent to /graph
// against the libre-graph document, then pins the set of operations the client uses.
func TestRequestsFollowTheAPIDocument(t *testing.T) {
	path := apispec.Path(t, specFile)
	e := newEnv(t, envOptions{})
	fullFlow(t, e)

	const host = "http://ocis.test"
	v, err := apispec.Load(path, host+"/graph")
	if err != nil {
		t.Fatal(err)
	}
	doc := loadDoc(t, path, host+"/graph")
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	used := map[string]bool{}
	for _, r := range e.sim.Faults().Requests() {
		if r.Path == ocissim.TokenPath {
			continue
		}
		if err := validate(t, v, doc, host, r); err != nil {
			t.Errorf("request does not follow the document: %v\n%s", err, r.Body)
		}
		req, _ := http.NewRequest(r.Method, host+r.Path+"?"+r.Query, nil)
		route, _, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: %v", r.Method, r.Path, err)
			continue
		}
		op := route.Operation.OperationID
		for _, h := range []string{"Restore", "Purge"} {
			if r.Header.Get(h) != "" {
				op += " (" + h + ": " + r.Header.Get(h) + ")"
			}
		}
		used[op] = true
	}
	var ops []string
	for op := range used {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	want := []string{
		"CreateDrive", "CreateGroup", "DeleteDrive", "DeleteDrive (Purge: T)", "DeleteGroup", "GetDrive",
		"InviteSpaceRoot", "ListAllDrives", "ListGroups", "ListPermissionsSpaceRoot", "UpdateDrive",
		"UpdateDrive (Restore: T)", "UpdatePermissionSpaceRoot",
	}
	if diff := cmp.Diff(want, ops); diff != "" {
		t.Errorf("operations used (-want +got):\n%s", diff)
	}
	t.Logf("operations used: %s", strings.Join(ops, ", "))
}

func fullFlow(t *testing.T, e *env) {
	t.Helper()
	d := desired()
	obs := mustEnsure(t, e, &d) // create space, group, invite
	mustEnsure(t, e, &d)        // stable
	d.ExternalID = ""
	mustEnsure(t, e, &d) // adoption by marker (list with $filter)
	e.sim.SetQuota(obs.ExternalID, 1)
	e.sim.SetName(obs.ExternalID, "Other")
	e.sim.SetDescription(obs.ExternalID, "")
	for _, g := range e.sim.Groups() {
		e.sim.SetGroupRole(obs.ExternalID, g.ID, ocissim.RoleSpaceViewer)
	}
	mustEnsure(t, e, &d) // PATCH drive, PATCH permission
	for _, g := range e.sim.Groups() {
		e.sim.RevokeGroup(obs.ExternalID, g.ID)
	}
	mustEnsure(t, e, &d) // invite again
	d.Suspended = true
	mustEnsure(t, e, &d) // disable
	d.Suspended = false
	mustEnsure(t, e, &d) // restore
	e.sim.Faults().Set(faults.Config{RateLimitNext: 1, RetryAfterSeconds: 1})
	if _, err := integrationstest.Converge(ctx(t), e.client, d); !integrations.IsRetryable(err) {
		t.Fatalf("rate-limited Ensure: %v", err)
	}
	if err := e.client.Delete(ctx(t), d); err != nil { // disable, purge, delete group
		t.Fatal(err)
	}
}

func loadDoc(t *testing.T, path, server string) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: server}}
	return doc
}

// validate checks one request with apispec. The document marks drive.quota and drive.driveType
// read-only, yet its own CreateDrive and UpdateDrive examples send quota.total, CreateDrive's
// summary is "Create a new drive of a specific type", and oCIS reads both fields. A request
// refused only for those properties is accepted when the document's examples back the exact
// shape sent, and when the body with them removed is otherwise valid.
func validate(t *testing.T, v *apispec.Validator, doc *openapi3.T, host string, r faults.Request) error {
	t.Helper()
	err := v.Validate(host, r)
	if err == nil || !strings.Contains(err.Error(), "readOnly property") {
		return err
	}
	var body map[string]any
	if jerr := json.Unmarshal(r.Body, &body); jerr != nil {
		return err
	}
	create := r.Method == http.MethodPost && r.Path == "/graph/v1.0/drives"
	update := r.Method == http.MethodPatch && strings.HasPrefix(r.Path, "/graph/v1.0/drives/")
	if !create && !update {
		return err
	}
	if q, ok := body["quota"]; ok {
		qm, isMap := q.(map[string]any)
		if _, hasTotal := qm["total"]; !isMap || len(qm) != 1 || !hasTotal {
			return fmt.Errorf("quota %v: only quota.total is backed by the document's examples: %w", q, err)
		}
		example := "change quota"
		op := doc.Paths.Find("/v1.0/drives/{drive-id}").Patch
		if create {
			example = "multiple values"
			op = doc.Paths.Find("/v1.0/drives").Post
		}
		ex := op.RequestBody.Value.Content.Get("application/json").Examples[example]
		if ex == nil || !exampleHasQuotaTotal(ex.Value.Value) {
			return fmt.Errorf("the document no longer shows quota.total in %q: %w", example, err)
		}
		delete(body, "quota")
	}
	if dt, ok := body["driveType"]; ok {
		if !create || dt != "project" || !strings.Contains(doc.Paths.Find("/v1.0/drives").Post.Summary, "specific type") {
			return fmt.Errorf("driveType %v: %w", dt, err)
		}
		delete(body, "driveType")
	}
	stripped, _ := json.Marshal(body)
	r.Body = stripped
	r.Header = r.Header.Clone()
	return v.Validate(host, r)
}

func exampleHasQuotaTotal(v any) bool {
	m, _ := v.(map[string]any)
	q, _ := m["quota"].(map[string]any)
	_, ok := q["total"]
	return ok
}

// TestValidateExemptionIsNarrow pins what validate lets through beyond apispec: quota.total and
// driveType "project" on the drive operations, nothing else.
func TestValidateExemptionIsNarrow(t *testing.T) {
	path := apispec.Path(t, specFile)
	const host = "http://ocis.test"
	v, err := apispec.Load(path, host+"/graph")
	if err != nil {
		t.Fatal(err)
	}
	doc := loadDoc(t, path, host+"/graph")
	jsonHdr := http.Header{"Content-Type": {"application/json"}}
	cases := map[string]struct {
		reason string
		method string
		path   string
		body   string
		ok     bool
	}{
		"create":           {reason: "what the client sends", method: "POST", path: "/graph/v1.0/drives", body: `{"name":"a","driveType":"project","description":"d","quota":{"total":1}}`, ok: true},
		"patch quota":      {reason: "the 'change quota' example", method: "PATCH", path: "/graph/v1.0/drives/x", body: `{"quota":{"total":1}}`, ok: true},
		"other quota prop": {reason: "quota.used is read-only and in no example", method: "POST", path: "/graph/v1.0/drives", body: `{"name":"a","quota":{"total":1,"used":2}}`},
		"personal":         {reason: "only project is backed", method: "POST", path: "/graph/v1.0/drives", body: `{"name":"a","driveType":"personal"}`},
		"patch driveType":  {reason: "driveType is not an update", method: "PATCH", path: "/graph/v1.0/drives/x", body: `{"driveType":"project"}`},
		"read-only id":     {reason: "other read-only properties stay refused", method: "POST", path: "/graph/v1.0/drives", body: `{"name":"a","id":"x"}`},
		"undeclared":       {reason: "undeclared properties stay refused", method: "POST", path: "/graph/v1.0/drives", body: `{"name":"a","quota":{"total":1},"colour":"red"}`},
		"group quota":      {reason: "the exemption is for drives only", method: "POST", path: "/graph/v1.0/groups", body: `{"displayName":"g","quota":{"total":1}}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := validate(t, v, doc, host, faults.Request{Method: tc.method, Path: tc.path, Header: jsonHdr, Body: []byte(tc.body)})
			if (err == nil) != tc.ok {
				t.Errorf("%s: err = %v, want ok=%v", tc.reason, err, tc.ok)
			}
		})
	}
}
