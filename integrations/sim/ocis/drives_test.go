package ocissim

import (
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
	}{
		"minimal":            {reason: "a name is enough; project is the default type", body: `{"name":"Venus"}`, want: 201},
		"full":               {reason: "the document's 'multiple values' example", body: `{"name":"Mars","driveType":"project","description":"d","quota":{"total":1000000000}}`, want: 201},
		"255 bytes":          {reason: "the limit itself is allowed", body: `{"name":"` + strings.Repeat("a", 255) + `"}`, want: 201},
		"256 bytes":          {reason: "names are at most 255 bytes", body: `{"name":"` + strings.Repeat("a", 256) + `"}`, want: 400, wantCode: codeInvalidRequest},
		"multibyte too long": {reason: "oCIS counts bytes, not characters", body: `{"name":"` + strings.Repeat("é", 128) + `"}`, want: 400, wantCode: codeInvalidRequest},
		"slash":              {reason: "/ is forbidden", body: `{"name":"a/b"}`, want: 400, wantCode: codeInvalidRequest},
		"dot":                {reason: ". is forbidden", body: `{"name":"Acme Inc."}`, want: 400, wantCode: codeInvalidRequest},
		"pipe":               {reason: "| is forbidden", body: `{"name":"a|b"}`, want: 400, wantCode: codeInvalidRequest},
		"empty":              {reason: "a name is required", body: `{"description":"x"}`, want: 400, wantCode: codeInvalidRequest},
		"blank":              {reason: "the name is trimmed before validation", body: `{"name":"   "}`, want: 400, wantCode: codeInvalidRequest},
		"personal":           {reason: "only project drives can be created", body: `{"name":"x","driveType":"personal"}`, want: 400, wantCode: codeInvalidRequest},
		"unknown property":   {reason: "the body is decoded strictly", body: `{"name":"x","colour":"red"}`, want: 400, wantCode: codeInvalidRequest},
		"unknown quota prop": {reason: "nested objects are strict too", body: `{"name":"x","quota":{"max":1}}`, want: 400, wantCode: codeInvalidRequest},
		"trailing data":      {reason: "one JSON value only", body: `{"name":"x"} {}`, want: 400, wantCode: codeInvalidRequest},
		"not json":           {reason: "garbage is refused", body: `name=x`, want: 400, wantCode: codeInvalidRequest},
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
	s, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	a := createDrive(t, srv, tok, `{"name":"A"}`)
	createDrive(t, srv, tok, `{"name":"B"}`)
	cases := map[string]struct {
		reason   string
		filter   string
		want     int
		wantCode string
		wantIDs  int
	}{
		"driveType":           {reason: "one eq on driveType", filter: "driveType eq 'project'", want: 200, wantIDs: 2},
		"other type":          {reason: "no personal drives here", filter: "driveType eq 'personal'", want: 200, wantIDs: 0},
		"id":                  {reason: "one eq on id", filter: "id eq '" + a + "'", want: 200, wantIDs: 1},
		"parenthesised":       {reason: "redundant parentheses are harmless", filter: "(driveType eq 'project')", want: 200, wantIDs: 2},
		"name":                {reason: "only driveType and id can be filtered", filter: "name eq 'A'", want: 400, wantCode: codeNotSupported},
		"ne":                  {reason: "only eq is supported", filter: "driveType ne 'project'", want: 400, wantCode: codeNotSupported},
		"and":                 {reason: "one comparison only", filter: "driveType eq 'project' and id eq '" + a + "'", want: 400, wantCode: codeNotSupported},
		"function":            {reason: "no functions", filter: "contains(name,'A')", want: 400, wantCode: codeNotSupported},
		"garbage":             {reason: "unparsable filters are invalid", filter: "driveType eq", want: 400, wantCode: codeInvalidRequest},
		"unterminated string": {reason: "quotes must close", filter: "driveType eq 'project", want: 400, wantCode: codeInvalidRequest},
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
				return
			}
			if n := len(r.json(t)["value"].([]any)); n != tc.wantIDs {
				t.Errorf("%s: %d drives, want %d", tc.reason, n, tc.wantIDs)
			}
		})
	}
	t.Run("id not found is null", func(t *testing.T) {
		r := do(t, srv, tok, http.MethodGet, "/graph/v1.0/drives?$filter="+q("id eq 'nope'"), "")
		if r.status != 200 || strings.TrimSpace(string(r.body)) != "null" {
			t.Errorf("unknown id: %d %q, want 200 null as oCIS renders NOT_FOUND", r.status, r.body)
		}
	})
	t.Run("orderby", func(t *testing.T) {
		r := do(t, srv, tok, http.MethodGet, "/graph/v1.0/drives?$orderby="+q("name desc"), "")
		v := r.json(t)["value"].([]any)
		if v[0].(map[string]any)["name"] != "B" {
			t.Errorf("$orderby=name desc: first is %v", v[0])
		}
		if bad := do(t, srv, tok, http.MethodGet, "/graph/v1.0/drives?$orderby=size", ""); bad.status != 400 {
			t.Errorf("$orderby=size: status %d, want 400", bad.status)
		}
	})
	_ = s
}

func TestDisableRestorePurge(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	id := createDrive(t, srv, tok, `{"name":"Space","quota":{"total":10}}`)
	path := "/graph/v1.0/drives/" + id

	if r := do(t, srv, tok, http.MethodDelete, path, "", "Purge", "T"); r.status != 400 || r.errorCode(t) != codeGeneralException {
		t.Fatalf("purging an enabled space: %d %s, want 400", r.status, r.body)
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
	// Restore: PATCH with Restore: T and an empty update.
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
	for _, m := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
		body := ""
		if m == http.MethodPatch {
			body = `{"name":"x"}`
		}
		if r := do(t, srv, tok, m, path, body); r.status != 404 || r.errorCode(t) != codeItemNotFound {
			t.Errorf("%s on a purged space: %d %s, want 404 itemNotFound", m, r.status, r.body)
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
		"negative quota":   {reason: "a quota is a byte count", body: `{"quota":{"total":-1}}`, want: 400, wantCode: codeInvalidRequest},
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
	if r := do(t, srv, tok, http.MethodGet, "/graph/v1.0/nothing", ""); r.status != 404 || r.errorCode(t) != codeItemNotFound {
		t.Errorf("unknown path: %d %s, want a libre-graph 404", r.status, r.body)
	}
}
