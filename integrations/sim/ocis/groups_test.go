package ocissim

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCreateGroup(t *testing.T) {
	cases := map[string]struct {
		reason   string
		seed     string
		body     string
		want     int
		wantCode string
	}{
		"created":           {reason: "displayName is all a group needs", body: `{"displayName":"tenant-acme"}`, want: 201},
		"duplicate":         {reason: "group names are unique", seed: "tenant-acme", body: `{"displayName":"tenant-acme"}`, want: 409, wantCode: codeNameAlreadyExists},
		"duplicate in case": {reason: "the directory compares names without case", seed: "Tenant-Acme", body: `{"displayName":"tenant-acme"}`, want: 409, wantCode: codeNameAlreadyExists},
		"missing name":      {reason: "displayName is required", body: `{"description":"x"}`, want: 400, wantCode: codeInvalidRequest},
		"blank name":        {reason: "a blank name is invalid", body: `{"displayName":"  "}`, want: 400, wantCode: codeInvalidRequest},
		"id given":          {reason: "id is read-only", body: `{"displayName":"g","id":"x"}`, want: 400, wantCode: codeInvalidRequest},
		"unknown property":  {reason: "strict decoding", body: `{"displayName":"g","owner":"x"}`, want: 400, wantCode: codeInvalidRequest},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, srv := newTestServer(t, Options{})
			if tc.seed != "" {
				if _, err := s.AddGroup(tc.seed); err != nil {
					t.Fatal(err)
				}
			}
			before := len(s.Groups())
			r := do(t, srv, issueToken(t, srv), http.MethodPost, "/graph/v1.0/groups", tc.body)
			if r.status != tc.want {
				t.Fatalf("%s: status %d, want %d: %s", tc.reason, r.status, tc.want, r.body)
			}
			if tc.wantCode != "" {
				if code := r.errorCode(t); code != tc.wantCode {
					t.Errorf("%s: code %q, want %q", tc.reason, code, tc.wantCode)
				}
				if len(s.Groups()) != before {
					t.Errorf("%s: a refused create stored a group", tc.reason)
				}
				return
			}
			if g := r.json(t); g["id"] == "" || g["displayName"] != "tenant-acme" {
				t.Errorf("%s: created group %v", tc.reason, g)
			}
		})
	}
}

func TestSearchGroupsIsSubstring(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	for _, n := range []string{"tenant-acme", "tenant-acme-2", "Old-TENANT-ACME", "tenant-other"} {
		if _, err := s.AddGroup(n); err != nil {
			t.Fatal(err)
		}
	}
	names := func(path string) []string {
		r := do(t, srv, tok, http.MethodGet, path, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		var out []string
		for _, g := range r.json(t)["value"].([]any) {
			out = append(out, g.(map[string]any)["displayName"].(string))
		}
		sort.Strings(out)
		return out
	}
	want := []string{"Old-TENANT-ACME", "tenant-acme", "tenant-acme-2"}
	if diff := cmp.Diff(want, names("/graph/v1.0/groups?$search="+q(`"tenant-acme"`))); diff != "" {
		t.Errorf("quoted $search is a case-insensitive substring match (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"tenant-other"}, names("/graph/v1.0/groups?$search=other")); diff != "" {
		t.Errorf("an unquoted one-word $search (-want +got):\n%s", diff)
	}
	// Unquoted, OData's search grammar stops at "-" (measured on oCIS 7.1).
	r := do(t, srv, tok, http.MethodGet, "/graph/v1.0/groups?$search=tenant-acme", "")
	if r.status != 400 || r.errorCode(t) != codeInvalidRequest || !strings.Contains(string(r.body), "Token '-acme' is invalid") {
		t.Errorf("unquoted $search with a dash: %d %s, want 400 naming the invalid token", r.status, r.body)
	}
	if n := len(names("/graph/v1.0/groups")); n != 4 {
		t.Errorf("no $search lists all groups, got %d", n)
	}
}

func TestGetAndDeleteGroup(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	g, _ := s.AddGroup("tenant-acme")
	for _, key := range []string{g.ID, "tenant-acme"} {
		if r := do(t, srv, tok, http.MethodGet, "/graph/v1.0/groups/"+key, ""); r.status != 200 || r.json(t)["id"] != g.ID {
			t.Errorf("GET /groups/%s: %d %s (the key is id or name)", key, r.status, r.body)
		}
	}
	if r := do(t, srv, tok, http.MethodDelete, "/graph/v1.0/groups/"+g.ID, ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := do(t, srv, tok, http.MethodDelete, "/graph/v1.0/groups/"+g.ID, ""); r.status != 404 || r.errorCode(t) != codeItemNotFound || r.json(t)["error"].(map[string]any)["message"] != "not found" {
		t.Errorf("second delete: %d %s, want 404 itemNotFound \"not found\"", r.status, r.body)
	}
}

// TestDeletedGroupKeepsItsGrants: oCIS leaves a deleted group's grant on every space (still
// showing its name), so a new group of the same name gets a second grant beside it.
func TestDeletedGroupKeepsItsGrants(t *testing.T) {
	s, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	id := createDrive(t, srv, tok, `{"name":"S"}`)
	old, _ := s.AddGroup("tenant-acme")
	invitePath := "/graph/v1beta1/drives/" + id + "/root/invite"
	if r := do(t, srv, tok, http.MethodPost, invitePath, inviteBody(groupRecipient(old.ID), RoleManager)); r.status != 200 {
		t.Fatalf("invite: %d %s", r.status, r.body)
	}
	if r := do(t, srv, tok, http.MethodDelete, "/graph/v1.0/groups/"+old.ID, ""); r.status != 204 {
		t.Fatalf("delete group: %d %s", r.status, r.body)
	}
	fresh, _ := s.AddGroup("tenant-acme")
	if r := do(t, srv, tok, http.MethodPost, invitePath, inviteBody(groupRecipient(fresh.ID), RoleManager)); r.status != 200 {
		t.Fatalf("invite the new group: %d %s", r.status, r.body)
	}
	var got []string
	for _, p := range do(t, srv, tok, http.MethodGet, "/graph/v1beta1/drives/"+id+"/root/permissions", "").json(t)["value"].([]any) {
		if g, ok := p.(map[string]any)["grantedToV2"].(map[string]any)["group"].(map[string]any); ok {
			got = append(got, g["id"].(string)+" "+g["displayName"].(string))
		}
	}
	want := []string{old.ID + " tenant-acme", fresh.ID + " tenant-acme"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("group grants (-want +got):\n%s", diff)
	}
	// The stale grant can still be revoked.
	if r := do(t, srv, tok, http.MethodDelete, "/graph/v1beta1/drives/"+id+"/root/permissions/g:"+old.ID, ""); r.status != 204 {
		t.Errorf("revoke the stale grant: %d %s", r.status, r.body)
	}
}
