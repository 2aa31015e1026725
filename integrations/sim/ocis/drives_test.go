package ocissim

import (
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCreateDriveValidation(t *testing.T) {
	cases := map[string]struct {
		reason   string
		body     string
		want     int
		wantCode string
		wantMsg  string
	}{
		"minimal":            {reason: "a name is enough; project is the default type", body: `{"name":"Venus"}`, want: 201},
		"full":               {reason: "the document's 'multiple values' example", body: `{"name":"Mars","driveType":"project","description":"d","quota":{"total":1000000000}}`, want: 201},
		"255 bytes":          {reason: "the limit itself is allowed", body: `{"name":"` + strings.Repeat("a", 255) + `"}`, want: 201},
		"256 bytes":          {reason: "names are at most 255 bytes", body: `{"name":"` + strings.Repeat("a", 256) + `"}`, want: 400, wantCode: codeInvalidRequest, wantMsg: "invalid spacename: spacename must be smaller than 255"},
		"multibyte too long": {reason: "oCIS counts bytes, not characters", body: `{"name":"` + strings.Repeat("é", 128) + `"}`, want: 400, wantCode: codeInvalidRequest},
		"slash":              {reason: "/ is forbidden", body: `{"name":"a/b"}`, want: 400, wantCode: codeInvalidRequest, wantMsg: `invalid spacename: spacenames must not contain [/ \ . : ? * " > < |]`},
		"dot":                {reason: ". is forbidden", body: `{"name":"Acme Inc."}`, want: 400, wantCode: codeInvalidRequest},
		"pipe":               {reason: "| is forbidden", body: `{"name":"a|b"}`, want: 400, wantCode: codeInvalidRequest},
		"empty":              {reason: "a name is required", body: `{"description":"x"}`, want: 400, wantCode: codeInvalidRequest, wantMsg: "invalid body schema definition"},
		"blank":              {reason: "the name is trimmed before validation", body: `{"name":"   "}`, want: 400, wantCode: codeInvalidRequest, wantMsg: "invalid spacename: spacename must not be empty"},
		"personal":           {reason: "only project drives can be created", body: `{"name":"x","driveType":"personal"}`, want: 400, wantCode: codeInvalidRequest, wantMsg: "drives of this type cannot be created via this api"},
		"unknown property":   {reason: "the body is decoded strictly", body: `{"name":"x","colour":"red"}`, want: 400, wantCode: codeInvalidRequest, wantMsg: "invalid body schema definition"},
		"unknown quota prop": {reason: "nested objects are strict too", body: `{"name":"x","quota":{"max":1}}`, want: 400, wantCode: codeInvalidRequest},
		"trailing data":      {reason: "one JSON value only", body: `{"name":"x"} {}`, want: 400, wantCode: codeInvalidRequest},
		"not json":           {reason: "garbage is refused", body: `name=x`, want: 400, wantCode: codeInvalidRequest, wantMsg: "invalid body schema definition"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, srv := newTestServer(t, Options{})
			r := do(t, srv, issueToken(t, srv), http.MethodPost, "/graph/v1.0/drives", tc.body)
			if r.status != tc.want {
				t.Fatalf("%s: status %d, want %d: %s", tc.reason, r.status, tc.want, r.body)
			}
			if tc.wantCode != "" {
				if code := r.errorCode(t); code != tc.wantCode {
					t.Errorf("%s: code %q, want %q", tc.reason, code, tc.wantCode)
				}
				if msg := r.json(t)["error"].(map[string]any)["message"]; tc.wantMsg != "" && msg != tc.wantMsg {
					t.Errorf("%s: message %q, want %q", tc.reason, msg, tc.wantMsg)
				}
				if s.DriveCount() != 0 {
					t.Errorf("%s: a refused create stored a drive", tc.reason)
				}
			}
		})
	}
}

func TestCreateDriveResponseAndNonUniqueNames(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	body := `{"name":"  Team  ","driveType":"project","description":"dezky:tenant:abc","quota":{"total":5000}}`
	r := do(t, srv, tok, http.MethodPost, "/graph/v1.0/drives", body)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	got := r.json(t)
	if got["name"] != "Team" || got["driveType"] != "project" || got["description"] != "dezky:tenant:abc" {
		t.Errorf("created drive %v: want trimmed name, project type, description kept", got)
	}
	if total := got["quota"].(map[string]any)["total"]; total != 5000.0 {
		t.Errorf("quota.total = %v, want 5000", total)
	}
	id := got["id"].(string)
	if !strings.Contains(id, "$") {
		t.Errorf("id %q is not a <storage>$<space> drive id", id)
	}
	// The same request again makes a second space: oCIS does no duplicate check.
	second := createDrive(t, srv, tok, body)
	if second == id || s.DriveCount() != 2 {
		t.Fatalf("names must not be unique: ids %s %s, count %d", id, second, s.DriveCount())
	}
	// The creator holds Manager on the space root.
	if diff := cmp.Diff([]Grant{{ID: "u:" + s.ServiceUserID(), UserID: s.ServiceUserID(), RoleID: RoleManager}}, s.Grants(id)); diff != "" {
		t.Errorf("creator grant (-want +got):\n%s", diff)
	}
	// GET by id answers the same drive; an id with $ survives the path.
	if g := do(t, srv, tok, http.MethodGet, "/graph/v1.0/drives/"+id, ""); g.status != 200 || g.json(t)["id"] != id {
		t.Errorf("get by id: %d %s", g.status, g.body)
	}
}

func TestListDrivesFilter(t *testing.T) {
	_, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	a := createDrive(t, srv, tok, `{"name":"A"}`)
	createDrive(t, srv, tok, `{"name":"B"}`)
	// Besides the two project spaces an administrator sees both users' personal drives and the
	// virtual Shares drive.
	cases := map[string]struct {
		reason   string
		filter   string
		want     int
		wantCode string
		wantMsg  string
		wantIDs  int
	}{
		"driveType":     {reason: "one eq on driveType", filter: "driveType eq 'project'", want: 200, wantIDs: 2},
		"personal":      {reason: "every user's personal drive", filter: "driveType eq 'personal'", want: 200, wantIDs: 2},
		"virtual":       {reason: "the Shares drive", filter: "driveType eq 'virtual'", want: 200, wantIDs: 1},
		"unknown type":  {reason: "an unknown type matches nothing", filter: "driveType eq 'nonsense'", want: 200, wantIDs: 0},
		"id":            {reason: "one eq on id", filter: "id eq '" + a + "'", want: 200, wantIDs: 1},
		"unknown id":    {reason: "an unknown id is an empty list, not null", filter: "id eq 'nope'", want: 200, wantIDs: 0},
		"parenthesised": {reason: "redundant parentheses are harmless", filter: "(driveType eq 'project')", want: 200, wantIDs: 2},
		"name":          {reason: "an eq on another property is ignored: everything is listed", filter: "name eq 'A'", want: 200, wantIDs: 5},
		"ne":            {reason: "only eq is supported", filter: "driveType ne 'project'", want: 501, wantCode: codeNotSupported, wantMsg: "unsupported filter operand: ne"},
		"and":           {reason: "one comparison only", filter: "driveType eq 'project' and id eq '" + a + "'", want: 501, wantCode: codeNotSupported, wantMsg: "unsupported filter operand: and"},
		"or":            {reason: "or binds loosest", filter: "driveType eq 'project' or driveType eq 'personal' and id eq 'x'", want: 501, wantCode: codeNotSupported, wantMsg: "unsupported filter operand: or"},
		"function":      {reason: "no functions", filter: "contains(name,'A')", want: 501, wantCode: codeNotSupported, wantMsg: "unsupported filter operand: contains"},
		"missing value": {reason: "the parser wants two operands", filter: "driveType eq", want: 400, wantCode: codeInvalidRequest, wantMsg: "insufficient number of operands for operator 'eq'"},
		"unterminated":  {reason: "quotes must close", filter: "driveType eq 'project", want: 400, wantCode: codeInvalidRequest, wantMsg: "Token ''project' is invalid"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := do(t, srv, tok, http.MethodGet, "/graph/v1.0/drives?$filter="+q(tc.filter), "")
			if r.status != tc.want {
				t.Fatalf("%s: status %d, want %d: %s", tc.reason, r.status, tc.want, r.body)
			}
			if tc.wantCode != "" {
				if code := r.errorCode(t); code != tc.wantCode {
					t.Errorf("%s: code %q, want %q", tc.reason, code, tc.wantCode)
				}
				if msg := r.json(t)["error"].(map[string]any)["message"]; msg != tc.wantMsg {
					t.Errorf("%s: message %q, want %q", tc.reason, msg, tc.wantMsg)
				}
				return
			}
			if n := len(r.json(t)["value"].([]any)); n != tc.wantIDs {
				t.Errorf("%s: %d drives, want %d", tc.reason, n, tc.wantIDs)
			}
		})
	}
	t.Run("orderby", func(t *testing.T) {
		r := do(t, srv, tok, http.MethodGet, "/graph/v1.0/drives?$filter="+q("driveType eq 'project'")+"&$orderby="+q("name desc"), "")
		v := r.json(t)["value"].([]any)
		if v[0].(map[string]any)["name"] != "B" {
			t.Errorf("$orderby=name desc: first is %v", v[0])
		}
		if bad := do(t, srv, tok, http.MethodGet, "/graph/v1.0/drives?$orderby=size", ""); bad.status != 400 {
			t.Errorf("$orderby=size: status %d, want 400", bad.status)
		}
	})
}

// TestDriveJSON checks the drive resource as oCIS 7.1 renders it: the space as its own owner,
// the alias from the name, the members with role names, the default quota.
func TestDriveJSON(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	r := do(t, srv, tok, http.MethodPost, "/graph/v1.0/drives", `{"name":"  Acme Inc Ünïcode & Co  "}`)
	if r.status != 201 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("create: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	got := r.json(t)
	id := got["id"].(string)
	_, space, _ := strings.Cut(id, "$")
	svc := map[string]any{"@libre.graph.userType": "Member", "displayName": testClientID, "id": s.ServiceUserID()}
	want := map[string]any{
		"driveAlias": "project/acme-inc-ünïcode-&-co",
		"owner":      map[string]any{"user": map[string]any{"displayName": "", "id": space}},
		"quota":      map[string]any{"total": float64(DefaultQuota), "used": 0.0, "remaining": float64(DefaultQuota), "state": "normal"},
		"permissions": []any{map[string]any{
			"grantedToIdentities": []any{map[string]any{"user": svc}},
			"grantedToV2":         map[string]any{"user": svc},
			"roles":               []any{"manager"},
		}},
	}
	gotSome := map[string]any{"driveAlias": got["driveAlias"], "owner": got["owner"], "quota": got["quota"],
		"permissions": got["root"].(map[string]any)["permissions"]}
	if diff := cmp.Diff(want, gotSome); diff != "" {
		t.Errorf("drive JSON (-want +got):\n%s", diff)
	}
	// Renaming keeps the alias; a zero quota is "unlimited".
	r = do(t, srv, tok, http.MethodPatch, "/graph/v1.0/drives/"+id, `{"name":"Other","quota":{"total":0}}`)
	quota := r.json(t)["quota"].(map[string]any)
	if a := r.json(t)["driveAlias"]; a != want["driveAlias"] || quota["total"] != 0.0 || quota["remaining"] != float64(math.MaxInt64) {
		t.Errorf("after rename and quota 0: alias %v, quota %v", a, quota)
	}
	// Each member's role is named; a group's identity has no user type.
	g, _ := s.AddGroup("tenant-acme")
	do(t, srv, tok, http.MethodPost, "/graph/v1beta1/drives/"+id+"/root/invite", inviteBody(groupRecipient(g.ID), RoleSpaceViewer))
	perms := do(t, srv, tok, http.MethodGet, "/graph/v1.0/drives/"+id, "").json(t)["root"].(map[string]any)["permissions"].([]any)
	wantGroup := map[string]any{
		"grantedToIdentities": []any{map[string]any{"group": map[string]any{"displayName": "tenant-acme", "id": g.ID}}},
		"grantedToV2":         map[string]any{"group": map[string]any{"displayName": "tenant-acme", "id": g.ID}},
		"roles":               []any{"viewer"},
	}
	if len(perms) != 2 || cmp.Diff(wantGroup, perms[1]) != "" {
		t.Errorf("group member (-want +got):\n%s", cmp.Diff(wantGroup, perms))
	}
	// The listing carries the same members, so one request shows every space's grants.
	list := do(t, srv, tok, http.MethodGet, "/graph/v1.0/drives?$filter="+q("driveType eq 'project'"), "").json(t)["value"].([]any)
	if len(list) != 1 || len(list[0].(map[string]any)["root"].(map[string]any)["permissions"].([]any)) != 2 {
		t.Errorf("listing: %v", list)
	}
	// A quota given at creation wins; a negative one is ignored for the default.
	for body, total := range map[string]float64{`{"name":"Q","quota":{"total":5}}`: 5, `{"name":"N","quota":{"total":-5}}`: DefaultQuota} {
		r := do(t, srv, tok, http.MethodPost, "/graph/v1.0/drives", body)
		if got := r.json(t)["quota"].(map[string]any)["total"]; got != total {
			t.Errorf("%s: quota.total %v, want %v", body, got, total)
		}
	}
	if r := do(t, srv, tok, http.MethodPost, "/graph/v1.0/drives", `{"name":"X","driveAlias":"project/custom"}`); r.json(t)["driveAlias"] != "project/custom" {
		t.Errorf("a given alias: %v", r.json(t)["driveAlias"])
	}
}

func TestDefaultQuotaOption(t *testing.T) {
	cases := map[string]struct {
		opt  int64
		want float64
	}{
		"default":   {opt: 0, want: DefaultQuota},
		"set":       {opt: 42, want: 42},
		"unlimited": {opt: -1, want: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, srv := newTestServer(t, Options{DefaultQuota: tc.opt})
			r := do(t, srv, issueToken(t, srv), http.MethodPost, "/graph/v1.0/drives", `{"name":"S"}`)
			if got := r.json(t)["quota"].(map[string]any)["total"]; got != tc.want {
				t.Errorf("quota.total %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDisableRestorePurge(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	id := createDrive(t, srv, tok, `{"name":"Space","quota":{"total":10}}`)
	path := "/graph/v1.0/drives/" + id

	if r := do(t, srv, tok, http.MethodDelete, path, "", "Purge", "T"); r.status != 400 || r.errorCode(t) != codeInvalidRequest ||
		!strings.Contains(string(r.body), "error: bad request: can't purge enabled space") {
		t.Fatalf("purging an enabled space: %d %s, want 400 invalidRequest", r.status, r.body)
	}
	if r := do(t, srv, tok, http.MethodDelete, path, ""); r.status != 204 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	// A disabled space is still listed, marked trashed.
	list := do(t, srv, tok, http.MethodGet, "/graph/v1.0/drives?$filter="+q("driveType eq 'project'"), "").json(t)["value"].([]any)
	if len(list) != 1 {
		t.Fatalf("disabled space not listed: %v", list)
	}
	root := list[0].(map[string]any)["root"].(map[string]any)
	if root["deleted"].(map[string]any)["state"] != "trashed" {
		t.Errorf("root.deleted = %v, want state trashed", root["deleted"])
	}
	// Its permissions cannot be read while disabled.
	if r := do(t, srv, tok, http.MethodGet, "/graph/v1beta1/drives/"+id+"/root/permissions", ""); r.status != 404 {
		t.Errorf("permissions of a disabled space: %d, want 404", r.status)
	}
	// Restore needs a body: an empty one is a 400, "{}" restores.
	if r := do(t, srv, tok, http.MethodPatch, path, "", "Restore", "T"); r.status != 400 || r.errorCode(t) != codeInvalidRequest {
		t.Fatalf("restore without a body: %d %s, want 400", r.status, r.body)
	}
	if r := do(t, srv, tok, http.MethodPatch, path, `{}`, "Restore", "T"); r.status != 200 || r.json(t)["root"].(map[string]any)["deleted"] != nil {
		t.Fatalf("restore: %d %s", r.status, r.body)
	}
	if d, _ := s.Drive(id); d.Disabled {
		t.Fatal("restore left the space disabled")
	}
	// Disable again, then purge: gone for good.
	do(t, srv, tok, http.MethodDelete, path, "")
	if r := do(t, srv, tok, http.MethodDelete, path, "", "Purge", "true"); r.status != 204 {
		t.Fatalf("purge: %d %s", r.status, r.body)
	}
	if s.DriveCount() != 0 {
		t.Errorf("DriveCount after purge = %d", s.DriveCount())
	}
	// GET says "no drive returned from storage", PATCH and DELETE "drive not found".
	for m, msg := range map[string]string{http.MethodGet: "no drive returned from storage", http.MethodPatch: "drive not found", http.MethodDelete: "drive not found"} {
		body := ""
		if m == http.MethodPatch {
			body = `{"name":"x"}`
		}
		if r := do(t, srv, tok, m, path, body); r.status != 404 || r.errorCode(t) != codeItemNotFound || r.json(t)["error"].(map[string]any)["message"] != msg {
			t.Errorf("%s on a purged space: %d %s, want 404 itemNotFound %q", m, r.status, r.body, msg)
		}
	}
}

func TestUpdateDrive(t *testing.T) {
	cases := map[string]struct {
		reason   string
		body     string
		want     int
		wantCode string
		check    func(Drive) bool
	}{
		"quota":            {reason: "quota.total is writable", body: `{"quota":{"total":42}}`, want: 200, check: func(d Drive) bool { return d.QuotaTotal == 42 }},
		"name":             {reason: "rename, trimmed", body: `{"name":" New "}`, want: 200, check: func(d Drive) bool { return d.Name == "New" }},
		"description":      {reason: "description is writable", body: `{"description":"x"}`, want: 200, check: func(d Drive) bool { return d.Description == "x" }},
		"bad name":         {reason: "renames are validated", body: `{"name":"a:b"}`, want: 400, wantCode: codeGeneralException},
		"unknown property": {reason: "strict decoding", body: `{"nickname":"x"}`, want: 400, wantCode: codeInvalidRequest},
		"quota -1":         {reason: "-1 is oCIS's unlimited (uint64 max), shown as 0", body: `{"quota":{"total":-1}}`, want: 200, check: func(d Drive) bool { return d.QuotaTotal == 0 && !d.Corrupt }},
		"negative quota":   {reason: "any other negative quota fails in the storage", body: `{"quota":{"total":-5}}`, want: 500, wantCode: codeGeneralException, check: func(d Drive) bool { return d.Corrupt }},
		"empty object":     {reason: "an empty update changes nothing", body: `{}`, want: 200, check: func(d Drive) bool { return d.Name == "Old" && d.QuotaTotal == 1 }},
		"empty body":       {reason: "a body is required", body: ``, want: 400, wantCode: codeInvalidRequest},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, srv := newTestServer(t, Options{})
			tok := issueToken(t, srv)
			id := createDrive(t, srv, tok, `{"name":"Old","description":"d","quota":{"total":1}}`)
			r := do(t, srv, tok, http.MethodPatch, "/graph/v1.0/drives/"+id, tc.body)
			if r.status != tc.want {
				t.Fatalf("%s: status %d, want %d: %s", tc.reason, r.status, tc.want, r.body)
			}
			if tc.wantCode != "" && r.errorCode(t) != tc.wantCode {
				t.Errorf("%s: code %q, want %q", tc.reason, r.errorCode(t), tc.wantCode)
			}
			if d, _ := s.Drive(id); tc.check != nil && !tc.check(d) {
				t.Errorf("%s: drive after PATCH: %+v", tc.reason, d)
			}
		})
	}
}

func TestFaultBodiesAreLibreGraphErrors(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	s.Faults().Set(faultsConfig(503))
	r := do(t, srv, tok, http.MethodGet, "/graph/v1.0/drives", "")
	if r.status != 503 || r.errorCode(t) != codeServiceNotAvail {
		t.Errorf("injected 503: %d %s", r.status, r.body)
	}
	s.Faults().Clear()
	// The router, not the graph service, answers an unknown path: plain text.
	if r := do(t, srv, tok, http.MethodGet, "/graph/v1.0/nothing", ""); r.status != 404 || string(r.body) != "404 page not found\n" {
		t.Errorf("unknown path: %d %s, want the router's plain 404", r.status, r.body)
	}
}

// TestNegativeQuotaHidesTheSpace: on oCIS 7.1 a negative quota (other than -1) answers 500 and
// leaves the space unreadable until a valid quota is set; the other changes of such PATCHes are
// kept.
func TestNegativeQuotaHidesTheSpace(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	id := createDrive(t, srv, tok, `{"name":"S","quota":{"total":10}}`)
	path := "/graph/v1.0/drives/" + id
	if r := do(t, srv, tok, http.MethodPatch, path, `{"quota":{"total":-5}}`); r.status != 500 || r.json(t)["error"].(map[string]any)["message"] != "grpc error" {
		t.Fatalf("negative quota: %d %s, want 500 grpc error", r.status, r.body)
	}
	if r := do(t, srv, tok, http.MethodGet, path, ""); r.status != 404 {
		t.Errorf("GET of the broken space: %d, want 404", r.status)
	}
	list := do(t, srv, tok, http.MethodGet, "/graph/v1.0/drives?$filter="+q("driveType eq 'project'"), "").json(t)["value"].([]any)
	if len(list) != 0 {
		t.Errorf("the broken space is listed: %v", list)
	}
	for _, c := range []struct{ method, body string }{{http.MethodPatch, `{"name":"Renamed"}`}, {http.MethodDelete, ""}} {
		if r := do(t, srv, tok, c.method, path, c.body); r.status != 500 {
			t.Errorf("%s of the broken space: %d, want 500", c.method, r.status)
		}
	}
	if r := do(t, srv, tok, http.MethodPatch, path, `{"quota":{"total":20}}`); r.status != 200 {
		t.Fatalf("repair: %d %s", r.status, r.body)
	}
	if d, _ := s.Drive(id); d.Corrupt || d.Disabled || d.Name != "Renamed" || d.QuotaTotal != 20 {
		t.Errorf("after repair: %+v, want readable, enabled, renamed, quota 20", d)
	}
}
