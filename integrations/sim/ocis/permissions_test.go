package ocissim

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func inviteBody(recipients string, roles ...string) string {
	rs := ""
	for i, r := range roles {
		if i > 0 {
			rs += ","
		}
		rs += `"` + r + `"`
	}
	return fmt.Sprintf(`{"recipients":[%s],"roles":[%s]}`, recipients, rs)
}

func groupRecipient(id string) string {
	return `{"@libre.graph.recipient.type":"group","objectId":"` + id + `"}`
}

func TestInvite(t *testing.T) {
	cases := map[string]struct {
		reason   string
		body     func(gid, uid string) string
		want     int
		wantCode string
	}{
		"group manager": {reason: "the document's 'send manager invite to group' example", body: func(g, _ string) string { return inviteBody(groupRecipient(g), RoleManager) }, want: 200},
		"user editor":   {reason: "a user recipient (type defaults to user)", body: func(_, u string) string { return inviteBody(`{"objectId":"`+u+`"}`, RoleSpaceEditor) }, want: 200},
		"unknown group": {reason: "the recipient must exist", body: func(_, _ string) string { return inviteBody(groupRecipient("nope"), RoleManager) }, want: 400, wantCode: codeInvalidRequest},
		"unknown role":  {reason: "roles are unified role ids", body: func(g, _ string) string { return inviteBody(groupRecipient(g), "owner") }, want: 400, wantCode: codeInvalidRequest},
		"file role":     {reason: "the file Viewer role does not apply to a space root", body: func(g, _ string) string { return inviteBody(groupRecipient(g), RoleViewer) }, want: 400, wantCode: codeInvalidRequest},
		"no recipients": {reason: "a recipient is required", body: func(_, _ string) string { return inviteBody("", RoleManager) }, want: 400, wantCode: codeInvalidRequest},
		"unknown property": {reason: "strict decoding", body: func(g, _ string) string {
			return `{"recipients":[` + groupRecipient(g) + `],"roles":["` + RoleManager + `"],"message":"hi"}`
		}, want: 400, wantCode: codeInvalidRequest},
		"bad recipient key": {reason: "a recipient has objectId and the type annotation only", body: func(g, _ string) string { return inviteBody(`{"email":"a@b.c"}`, RoleManager) }, want: 400, wantCode: codeInvalidRequest},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, srv := newTestServer(t, Options{})
			tok := issueToken(t, srv)
			id := createDrive(t, srv, tok, `{"name":"S"}`)
			g, _ := s.AddGroup("tenant-acme")
			uid := s.AddUser("alice")
			r := do(t, srv, tok, http.MethodPost, "/graph/v1beta1/drives/"+id+"/root/invite", tc.body(g.ID, uid))
			if r.status != tc.want {
				t.Fatalf("%s: status %d, want %d: %s", tc.reason, r.status, tc.want, r.body)
			}
			if tc.wantCode != "" {
				if code := r.errorCode(t); code != tc.wantCode {
					t.Errorf("%s: code %q, want %q", tc.reason, code, tc.wantCode)
				}
				if n := len(s.Grants(id)); n != 1 {
					t.Errorf("%s: a refused invite changed the grants (%d)", tc.reason, n)
				}
				return
			}
			if v := r.json(t)["value"].([]any); len(v) != 1 {
				t.Errorf("%s: response value %v, want one permission", tc.reason, v)
			}
		})
	}
}

func TestInviteRules(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	id := createDrive(t, srv, tok, `{"name":"S"}`)
	g1, _ := s.AddGroup("g1")
	g2, _ := s.AddGroup("g2")
	path := "/graph/v1beta1/drives/" + id + "/root/invite"

	r := do(t, srv, tok, http.MethodPost, path, inviteBody(groupRecipient(g1.ID)+","+groupRecipient(g2.ID), RoleManager))
	if r.status != 200 {
		t.Fatalf("invite: %d %s", r.status, r.body)
	}
	perm := r.json(t)["value"].([]any)[0].(map[string]any)
	want := map[string]any{
		"id":          "g:" + g1.ID,
		"roles":       []any{RoleManager},
		"grantedToV2": map[string]any{"group": map[string]any{"id": g1.ID, "displayName": "g1"}},
	}
	if diff := cmp.Diff(want, perm); diff != "" {
		t.Errorf("permission (-want +got):\n%s", diff)
	}
	wantGrants := []Grant{
		{ID: "u:" + s.ServiceUserID(), UserID: s.ServiceUserID(), RoleID: RoleManager},
		{ID: "g:" + g1.ID, GroupID: g1.ID, RoleID: RoleManager},
	}
	if diff := cmp.Diff(wantGrants, s.Grants(id)); diff != "" {
		t.Errorf("only recipients[0] is processed (-want +got):\n%s", diff)
	}

	again := do(t, srv, tok, http.MethodPost, path, inviteBody(groupRecipient(g1.ID), RoleSpaceViewer))
	if again.status != 409 || again.errorCode(t) != codeNameAlreadyExists {
		t.Errorf("existing grant: %d %s, want 409 nameAlreadyExists", again.status, again.body)
	}

	list := do(t, srv, tok, http.MethodGet, "/graph/v1beta1/drives/"+id+"/root/permissions", "")
	if list.status != 200 {
		t.Fatalf("list: %d %s", list.status, list.body)
	}
	body := list.json(t)
	if len(body["value"].([]any)) != 2 || len(body["@libre.graph.permissions.roles.allowedValues"].([]any)) != 4 ||
		len(body["@libre.graph.permissions.actions.allowedValues"].([]any)) == 0 {
		t.Errorf("permissions list shape: %v", body)
	}

	patch := do(t, srv, tok, http.MethodPatch, "/graph/v1beta1/drives/"+id+"/root/permissions/g:"+g1.ID, `{"roles":["`+RoleSpaceViewer+`"]}`)
	if patch.status != 200 || s.Grants(id)[1].RoleID != RoleSpaceViewer {
		t.Errorf("role update: %d %s", patch.status, patch.body)
	}
	if r := do(t, srv, tok, http.MethodPatch, "/graph/v1beta1/drives/"+id+"/root/permissions/g:nope", `{"roles":["`+RoleManager+`"]}`); r.status != 404 {
		t.Errorf("role update of a missing permission: %d, want 404", r.status)
	}
	if r := do(t, srv, tok, http.MethodPost, "/graph/v1beta1/drives/missing/root/invite", inviteBody(groupRecipient(g2.ID), RoleManager)); r.status != 404 {
		t.Errorf("invite on a missing drive: %d, want 404", r.status)
	}
}
