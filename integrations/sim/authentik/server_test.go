package authentiksim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations/sim/faults"
)

const token = "sim-secret-token"

// apiCall sends one request to the simulator and returns the status and the decoded JSON body
// (nil when there is none).
func apiCall(t *testing.T, base, method, path, auth, body string) (int, any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 {
		return resp.StatusCode, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
	}
	return resp.StatusCode, v
}

func newServer(t *testing.T, o Options) (*Server, string) {
	t.Helper()
	if o.Token == "" {
		o.Token = token
	}
	s := New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func TestAuthentication(t *testing.T) {
	_, base := newServer(t, Options{})
	cases := map[string]struct {
		reason     string
		path       string
		auth       string
		wantStatus int
		wantBody   any
	}{
		"no header": {
			reason: "DRF answers a missing credential with 403, not 401: Authentik's authenticator sends no challenge",
			path:   "/api/v3/core/groups/", wantStatus: 403,
			wantBody: map[string]any{"detail": "Authentication credentials were not provided."},
		},
		"scheme only": {
			reason: "a header without a space counts as no credentials",
			path:   "/api/v3/core/groups/", auth: "Bearer", wantStatus: 403,
			wantBody: map[string]any{"detail": "Authentication credentials were not provided."},
		},
		"basic": {
			reason: "only Bearer is accepted",
			path:   "/api/v3/core/groups/", auth: "Basic dXNlcjpwdw==", wantStatus: 403,
			wantBody: map[string]any{"detail": "Unsupported authentication type"},
		},
		"wrong token": {
			reason: "an unknown key is invalid/expired",
			path:   "/api/v3/core/users/", auth: "Bearer nope", wantStatus: 403,
			wantBody: map[string]any{"detail": "Token invalid/expired"},
		},
		"unknown path": {
			reason: "routing happens before authentication",
			path:   "/api/v3/core/nothing/", wantStatus: 404,
			wantBody: map[string]any{"detail": "Not found."},
		},
		"lower-case scheme": {
			reason: "the scheme is compared case-insensitively",
			path:   "/api/v3/core/groups/?page_size=1", auth: "bearer " + token, wantStatus: 200,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			status, body := apiCall(t, base, http.MethodGet, tc.path, tc.auth, "")
			if status != tc.wantStatus {
				t.Fatalf("%s\nstatus = %d, want %d (body %v)", tc.reason, status, tc.wantStatus, body)
			}
			if tc.wantBody != nil {
				if diff := cmp.Diff(tc.wantBody, body); diff != "" {
					t.Errorf("%s\n-want +got:\n%s", tc.reason, diff)
				}
			}
		})
	}
}

func TestEmptyTokenOptionRefusesEverything(t *testing.T) {
	s := New(Options{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	status, body := apiCall(t, srv.URL, http.MethodGet, "/api/v3/core/groups/", "Bearer ", "")
	if status != 403 {
		t.Fatalf("status = %d (%v), want 403", status, body)
	}
	status, _ = apiCall(t, srv.URL, http.MethodGet, "/api/v3/core/groups/", "Bearer x", "")
	if status != 403 {
		t.Fatalf("status = %d, want 403", status)
	}
}

func TestGroupNamesAreUnique(t *testing.T) {
	s, base := newServer(t, Options{})
	auth := "Bearer " + token
	status, body := apiCall(t, base, http.MethodPost, "/api/v3/core/groups/", auth, `{"name":"tenant-acme","attributes":{"a":1}}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, body)
	}
	g := body.(map[string]any)
	if _, ok := canonicalUUID(g["pk"].(string)); !ok {
		t.Errorf("pk %v is not a UUID", g["pk"])
	}
	if diff := cmp.Diff([]any{}, g["users_obj"]); diff != "" {
		t.Errorf("users_obj on create (include_users defaults to true) -want +got:\n%s", diff)
	}

	status, body = apiCall(t, base, http.MethodPost, "/api/v3/core/groups/", auth, `{"name":"tenant-acme"}`)
	want := map[string]any{"name": []any{"Group with this name already exists."}}
	if status != http.StatusBadRequest {
		t.Fatalf("duplicate create: status %d, want 400", status)
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("duplicate create body -want +got:\n%s", diff)
	}
	if n := s.GroupCount(); n != 1 {
		t.Errorf("GroupCount = %d, want 1", n)
	}

	// Names are compared exactly: another case is another name (PostgreSQL unique text).
	if status, body := apiCall(t, base, http.MethodPost, "/api/v3/core/groups/", auth, `{"name":"Tenant-Acme"}`); status != 201 {
		t.Fatalf("case variant: %d %v", status, body)
	}
	// Renaming onto a taken name is refused the same way.
	other, _ := s.GroupByName("Tenant-Acme")
	status, body = apiCall(t, base, http.MethodPatch, "/api/v3/core/groups/"+other.PK+"/", auth, `{"name":"tenant-acme"}`)
	if status != 400 {
		t.Fatalf("rename onto taken name: %d %v", status, body)
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("rename body -want +got:\n%s", diff)
	}
	// PATCHing a group with its own name is not a conflict.
	if status, body := apiCall(t, base, http.MethodPatch, "/api/v3/core/groups/"+other.PK+"/", auth, `{"name":"Tenant-Acme"}`); status != 200 {
		t.Fatalf("self rename: %d %v", status, body)
	}
}

func TestConcurrentCreatesMakeOneGroup(t *testing.T) {
	s, base := newServer(t, Options{})
	var wg sync.WaitGroup
	statuses := make([]int, 16)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _ = apiCall(t, base, http.MethodPost, "/api/v3/core/groups/", "Bearer "+token, `{"name":"race"}`)
		}()
	}
	wg.Wait()
	created := 0
	for _, st := range statuses {
		switch st {
		case 201:
			created++
		case 400:
		default:
			t.Errorf("unexpected status %d", st)
		}
	}
	if created != 1 || s.GroupCount() != 1 {
		t.Fatalf("created = %d, GroupCount = %d; want exactly one", created, s.GroupCount())
	}
}

func TestValidationAndNotFoundBodies(t *testing.T) {
	s, base := newServer(t, Options{})
	auth := "Bearer " + token
	pk, err := s.CreateGroupOutOfBand("g", nil)
	if err != nil {
		t.Fatal(err)
	}
	missing := "00000000-0000-4000-8000-000000000000"
	cases := map[string]struct {
		method, path, body string
		wantStatus         int
		wantBody           any
	}{
		"name required":         {"POST", "/api/v3/core/groups/", `{"attributes":{}}`, 400, map[string]any{"name": []any{"This field is required."}}},
		"name blank":            {"POST", "/api/v3/core/groups/", `{"name":"  "}`, 400, map[string]any{"name": []any{"This field may not be blank."}}},
		"attributes list":       {"POST", "/api/v3/core/groups/", `{"name":"x","attributes":[]}`, 400, map[string]any{"attributes": []any{"Value must be a dictionary, and not have any duplicate keys."}}},
		"unknown user pk":       {"POST", "/api/v3/core/groups/", `{"name":"x","users":[42]}`, 400, map[string]any{"users": []any{`Invalid pk "42" - object does not exist.`}}},
		"not an object":         {"POST", "/api/v3/core/groups/", `[1]`, 400, map[string]any{"non_field_errors": []any{"Invalid data. Expected a dictionary, but got list."}}},
		"missing group":         {"GET", "/api/v3/core/groups/" + missing + "/", "", 404, map[string]any{"detail": "No Group matches the given query."}},
		"not a uuid":            {"GET", "/api/v3/core/groups/nope/", "", 404, map[string]any{"detail": "Not found."}},
		"delete missing":        {"DELETE", "/api/v3/core/groups/" + missing + "/", "", 404, map[string]any{"detail": "No Group matches the given query."}},
		"add unknown user":      {"POST", "/api/v3/core/groups/" + pk + "/add_user/", `{"pk":42}`, 404, map[string]any{"detail": "Not found."}},
		"add to missing":        {"POST", "/api/v3/core/groups/" + missing + "/add_user/", `{"pk":1}`, 404, map[string]any{"detail": "No Group matches the given query."}},
		"add without pk":        {"POST", "/api/v3/core/groups/" + pk + "/add_user/", `{}`, 400, map[string]any{"pk": []any{"This field is required."}}},
		"bad page":              {"GET", "/api/v3/core/groups/?page=2", "", 404, map[string]any{"detail": "Invalid page."}},
		"method not allowed":    {"DELETE", "/api/v3/core/groups/", "", 405, map[string]any{"detail": `Method "DELETE" not allowed.`}},
		"no trailing slash":     {"GET", "/api/v3/core/groups", "", 404, map[string]any{"detail": "Not found."}},
		"bad attributes filter": {"GET", "/api/v3/core/groups/?attributes=%7Bx", "", 400, []any{"filter: failed to parse JSON"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			status, body := apiCall(t, base, tc.method, tc.path, auth, tc.body)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (%v)", status, tc.wantStatus, body)
			}
			if diff := cmp.Diff(tc.wantBody, body); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
	if n := s.GroupCount(); n != 1 {
		t.Errorf("failed requests changed the store: GroupCount = %d, want 1", n)
	}
}

func TestUnsupportedMediaType(t *testing.T) {
	_, base := newServer(t, Options{})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v3/core/groups/", strings.NewReader("name=x"))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("status = %d, want 415", resp.StatusCode)
	}
}

func TestPagination(t *testing.T) {
	s, base := newServer(t, Options{})
	for i := range 5 {
		if _, err := s.CreateGroupOutOfBand(fmt.Sprintf("g%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	type pg struct {
		Next, Previous, Count, Current, TotalPages, StartIndex, EndIndex float64
		Names                                                            []string
	}
	get := func(query string) pg {
		status, body := apiCall(t, base, http.MethodGet, "/api/v3/core/groups/?"+query, "Bearer "+token, "")
		if status != 200 {
			t.Fatalf("%s: %d %v", query, status, body)
		}
		m := body.(map[string]any)
		if diff := cmp.Diff(map[string]any{}, m["autocomplete"]); diff != "" {
			t.Errorf("autocomplete -want +got:\n%s", diff)
		}
		p := m["pagination"].(map[string]any)
		out := pg{
			Next: p["next"].(float64), Previous: p["previous"].(float64), Count: p["count"].(float64),
			Current: p["current"].(float64), TotalPages: p["total_pages"].(float64),
			StartIndex: p["start_index"].(float64), EndIndex: p["end_index"].(float64),
		}
		for _, r := range m["results"].([]any) {
			out.Names = append(out.Names, r.(map[string]any)["name"].(string))
		}
		return out
	}
	cases := map[string]struct {
		query string
		want  pg
	}{
		"first":       {"page_size=2", pg{2, 0, 5, 1, 3, 1, 2, []string{"g0", "g1"}}},
		"middle":      {"page_size=2&page=2", pg{3, 1, 5, 2, 3, 3, 4, []string{"g2", "g3"}}},
		"last":        {"page_size=2&page=3", pg{0, 2, 5, 3, 3, 5, 5, []string{"g4"}}},
		"last word":   {"page_size=2&page=last", pg{0, 2, 5, 3, 3, 5, 5, []string{"g4"}}},
		"bad size":    {"page_size=0", pg{0, 0, 5, 1, 1, 1, 5, []string{"g0", "g1", "g2", "g3", "g4"}}},
		"exact name":  {"name=g3", pg{0, 0, 1, 1, 1, 1, 1, []string{"g3"}}},
		"name prefix": {"name=g", pg{0, 0, 0, 1, 1, 0, 0, nil}},
		"search":      {"search=G3", pg{0, 0, 1, 1, 1, 1, 1, []string{"g3"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, get(tc.query)); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestDefaultPageSizeIs100(t *testing.T) {
	s, base := newServer(t, Options{})
	for i := range 101 {
		if _, err := s.CreateGroupOutOfBand(fmt.Sprintf("g%03d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	_, body := apiCall(t, base, http.MethodGet, "/api/v3/core/groups/?include_users=false", "Bearer "+token, "")
	m := body.(map[string]any)
	if n := len(m["results"].([]any)); n != 100 {
		t.Errorf("results = %d, want 100", n)
	}
	if next := m["pagination"].(map[string]any)["next"]; next != float64(2) {
		t.Errorf("next = %v, want 2", next)
	}
}

func TestIncludeUsersAndMembership(t *testing.T) {
	s, base := newServer(t, Options{})
	auth := "Bearer " + token
	alice := s.AddUser("alice", "alice@example.com")
	pk, _ := s.CreateGroupOutOfBand("g", map[string]any{"k": "v"})
	for range 2 { // add_user is a set-add: repeating it is harmless
		if status, body := apiCall(t, base, http.MethodPost, "/api/v3/core/groups/"+pk+"/add_user/", auth, fmt.Sprintf(`{"pk":%d}`, alice)); status != 204 || body != nil {
			t.Fatalf("add_user: %d %v", status, body)
		}
	}
	g, _ := s.GroupByName("g")
	if diff := cmp.Diff([]int{alice}, g.Users); diff != "" {
		t.Errorf("members -want +got:\n%s", diff)
	}

	cases := map[string]struct {
		query        string
		wantUsersObj any
	}{
		"default":  {"", []any{map[string]any{"pk": float64(alice), "username": "alice", "name": "alice", "is_active": true, "last_login": nil, "email": "alice@example.com", "attributes": map[string]any{}, "uid": userUID(&user{pk: alice})}}},
		"false":    {"?include_users=false", nil},
		"not true": {"?include_users=0", nil},
		"upper":    {"?include_users=TRUE", []any{map[string]any{"pk": float64(alice), "username": "alice", "name": "alice", "is_active": true, "last_login": nil, "email": "alice@example.com", "attributes": map[string]any{}, "uid": userUID(&user{pk: alice})}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			status, body := apiCall(t, base, http.MethodGet, "/api/v3/core/groups/"+pk+"/"+tc.query, auth, "")
			if status != 200 {
				t.Fatalf("%d %v", status, body)
			}
			m := body.(map[string]any)
			if diff := cmp.Diff(tc.wantUsersObj, m["users_obj"]); diff != "" {
				t.Errorf("users_obj -want +got:\n%s", diff)
			}
			if diff := cmp.Diff([]any{float64(alice)}, m["users"]); diff != "" {
				t.Errorf("users is always present -want +got:\n%s", diff)
			}
		})
	}

	// The users endpoint filters email exactly and lists group membership by UUID.
	s.AddUser("alice2", "ALICE@example.com")
	_, body := apiCall(t, base, http.MethodGet, "/api/v3/core/users/?email=alice@example.com&include_groups=false", auth, "")
	res := body.(map[string]any)["results"].([]any)
	if len(res) != 1 {
		t.Fatalf("email filter returned %d users, want 1", len(res))
	}
	u := res[0].(map[string]any)
	if diff := cmp.Diff([]any{pk}, u["groups"]); diff != "" {
		t.Errorf("groups -want +got:\n%s", diff)
	}
	if u["groups_obj"] != nil {
		t.Errorf("groups_obj = %v, want null with include_groups=false", u["groups_obj"])
	}

	// remove_user and delete answer 204 without a body.
	if status, _ := apiCall(t, base, http.MethodPost, "/api/v3/core/groups/"+pk+"/remove_user/", auth, fmt.Sprintf(`{"pk":%d}`, alice)); status != 204 {
		t.Fatalf("remove_user: %d", status)
	}
	if status, body := apiCall(t, base, http.MethodDelete, "/api/v3/core/groups/"+pk+"/", auth, ""); status != 204 || body != nil {
		t.Fatalf("delete: %d %v", status, body)
	}
	if s.GroupCount() != 0 {
		t.Fatal("group still there after delete")
	}
}

func TestPatchIsPartial(t *testing.T) {
	s, base := newServer(t, Options{})
	alice := s.AddUser("alice", "a@example.com")
	pk, _ := s.CreateGroupOutOfBand("g", map[string]any{"keep": "me"})
	s.mu.Lock()
	s.groups[pk].users[alice] = true
	s.mu.Unlock()
	status, body := apiCall(t, base, http.MethodPatch, "/api/v3/core/groups/"+pk+"/", "Bearer "+token, `{"is_superuser":true}`)
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	g, _ := s.GroupByName("g")
	want := Group{PK: pk, Name: "g", IsSuperuser: true, Attributes: map[string]any{"keep": "me"}, Users: []int{alice}}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
	// attributes are replaced as a whole, as a JSON field is.
	apiCall(t, base, http.MethodPatch, "/api/v3/core/groups/"+pk+"/", "Bearer "+token, `{"attributes":{"new":1}}`)
	g, _ = s.GroupByName("g")
	if diff := cmp.Diff(map[string]any{"new": float64(1)}, g.Attributes); diff != "" {
		t.Errorf("attributes -want +got:\n%s", diff)
	}
}

func TestInjectedFaultsUseAuthentikBodies(t *testing.T) {
	s, base := newServer(t, Options{})
	s.Faults().Set(faults.Config{RateLimitNext: 1, RetryAfterSeconds: 3})
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v3/core/groups/", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("status %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil || body["detail"] == nil {
		t.Fatalf("429 body %q is not a GenericError", raw)
	}
	if s.Faults().Calls() != 1 {
		t.Errorf("Calls = %d, want 1", s.Faults().Calls())
	}
}

func TestOutOfBandMutators(t *testing.T) {
	s := New(Options{Token: token})
	if _, err := s.CreateGroupOutOfBand("a", map[string]any{"x": "y"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateGroupOutOfBand("a", nil); err == nil {
		t.Error("second group with the same name was created")
	}
	if !s.SetGroupAttributes("a", map[string]any{"z": true}) || s.SetGroupAttributes("missing", nil) {
		t.Error("SetGroupAttributes reported the wrong existence")
	}
	if !s.RenameGroupOutOfBand("a", "b") {
		t.Error("rename failed")
	}
	g, ok := s.GroupByName("b")
	if !ok || !cmp.Equal(map[string]any{"z": true}, g.Attributes) {
		t.Errorf("after rename: %+v %v", g, ok)
	}
	// Snapshots are copies: changing one does not touch the store.
	g.Attributes["z"] = false
	if g2, _ := s.GroupByName("b"); g2.Attributes["z"] != true {
		t.Error("snapshot shares its attributes with the store")
	}
	if !s.DeleteGroupOutOfBand("b") || s.DeleteGroupOutOfBand("b") || s.GroupCount() != 0 {
		t.Error("DeleteGroupOutOfBand misbehaved")
	}
}
