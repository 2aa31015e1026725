package authentik_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/acceptance"
	"github.com/dezky/platform-api/integrations/apispec"
	"github.com/dezky/platform-api/integrations/authentik"
	authentiksim "github.com/dezky/platform-api/integrations/sim/authentik"
)

// liveUpstream is the out-of-band side against a real Authentik: its REST API v3 called with
// the same token, never through the client under test.
type liveUpstream struct {
	api   string // .../api/v3
	token string
	http  *http.Client
	// ownerPK and ownerEmail are the account made for this run, the tenants' owner. Sweep
	// leaves it: it is deleted when the run ends.
	ownerPK    int
	ownerEmail string
}

// newLiveUpstream connects to the live Authentik and creates the run's owner account, deleted
// when the test ends.
func newLiveUpstream(t *testing.T, env map[string]string) (*liveUpstream, http.RoundTripper) {
	t.Helper()
	hc, err := integrations.NewHTTPClient(integrations.HTTPOptions{CAFile: os.Getenv("LIVE_CA_FILE"), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	api := strings.TrimRight(env["LIVE_AUTHENTIK_URL"], "/")
	if !strings.HasSuffix(api, "/api/v3") {
		api += "/api/v3"
	}
	u := &liveUpstream{api: api, token: env["LIVE_AUTHENTIK_TOKEN"], http: hc}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := u.createOwner(ctx); err != nil {
		t.Fatalf("create the owner account: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := u.deleteUser(ctx, u.ownerPK); err != nil {
			t.Errorf("delete the owner account: %v", err)
		}
	})
	return u, hc.Transport
}

// createOwner creates the run's owner account with POST /core/users/ (UserRequest: username
// and name are required; the email is what the step finds the owner by).
func (u *liveUpstream) createOwner(ctx context.Context) error {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	username := accPrefix + "owner-" + hex.EncodeToString(b)
	var created struct {
		PK int `json:"pk"`
	}
	if _, err := u.call(ctx, http.MethodPost, "/core/users/", nil, map[string]any{
		"username": username, "name": "dezky acceptance owner", "email": username + "@example.com", "is_active": true,
	}, &created); err != nil {
		return err
	}
	u.ownerPK, u.ownerEmail = created.PK, username+"@example.com"
	return nil
}

// call makes one API request and decodes a JSON answer into out. A non-2xx answer is an error
// carrying the status.
func (u *liveUpstream) call(ctx context.Context, method, path string, q url.Values, body, out any) (int, error) {
	target := u.api + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	return acceptance.CallJSON(ctx, u.http, method, target, http.Header{"Authorization": {"Bearer " + u.token}}, body, out)
}

type liveGroup struct {
	PK         string         `json:"pk"`
	Name       string         `json:"name"`
	Attributes map[string]any `json:"attributes"`
}

func groupPath(pk string) string { return "/core/groups/" + url.PathEscape(pk) + "/" }

func (u *liveUpstream) group(ctx context.Context, pk string) (liveGroup, error) {
	var g liveGroup
	_, err := u.call(ctx, http.MethodGet, groupPath(pk), url.Values{"include_users": {"false"}}, nil, &g)
	return g, err
}

// list pages through a collection (Authentik's pagination: next is a page number, 0 when there
// is none) and hands each page's results to add.
func (u *liveUpstream) list(ctx context.Context, path string, q url.Values, add func(json.RawMessage) error) error {
	for page := 1; page != 0; {
		q.Set("page", strconv.Itoa(page))
		var p struct {
			Pagination struct {
				Next float64 `json:"next"`
			} `json:"pagination"`
			Results []json.RawMessage `json:"results"`
		}
		if _, err := u.call(ctx, http.MethodGet, path, q, nil, &p); err != nil {
			return err
		}
		for _, r := range p.Results {
			if err := add(r); err != nil {
				return err
			}
		}
		next := int(p.Pagination.Next)
		if next <= page {
			next = 0
		}
		page = next
	}
	return nil
}

// groupsNamed lists the groups whose name starts with prefix: search is a match on the name
// that may return more, so the prefix is checked here (as the client's own listing does).
func (u *liveUpstream) groupsNamed(ctx context.Context, prefix string) ([]liveGroup, error) {
	var out []liveGroup
	err := u.list(ctx, "/core/groups/", url.Values{"search": {prefix}, "include_users": {"false"}}, func(raw json.RawMessage) error {
		var g liveGroup
		if err := json.Unmarshal(raw, &g); err != nil {
			return err
		}
		if strings.HasPrefix(g.Name, prefix) {
			out = append(out, g)
		}
		return nil
	})
	return out, err
}

func (u *liveUpstream) Tampers() []acceptance.Tamper { return authentikTampers }

// Tamper changes the group through the same endpoints an administrator's tools use: PATCH and
// DELETE of the group, remove_user.
func (u *liveUpstream) Tamper(ctx context.Context, d integrations.Desired, name string) error {
	pk := d.ExternalID
	g, err := u.group(ctx, pk)
	if err != nil {
		return err
	}
	if attrs, ok := tamperedAttributes(name, d, g.Attributes); ok {
		return u.SetAttributes(ctx, pk, attrs)
	}
	switch name {
	case tamperDeleted:
		_, err = u.call(ctx, http.MethodDelete, groupPath(pk), nil, nil, nil)
	case tamperRenamed:
		_, err = u.call(ctx, http.MethodPatch, groupPath(pk), nil, map[string]any{"name": renamed(d.Slug)}, nil)
	case tamperOwnerRemoved:
		_, err = u.call(ctx, http.MethodPost, groupPath(pk)+"remove_user/", nil, map[string]any{"pk": u.ownerPK}, nil)
	default:
		err = fmt.Errorf("unknown tamper %q", name)
	}
	return err
}

func (u *liveUpstream) CountOwned(ctx context.Context, d integrations.Desired) (int, error) {
	groups, err := u.groupsNamed(ctx, accPrefix)
	n := 0
	for _, g := range groups {
		if carriesMarker(g.Attributes, d.TenantID) {
			n++
		}
	}
	return n, err
}

func (u *liveUpstream) Exists(ctx context.Context, pk string) (bool, error) {
	status, err := u.call(ctx, http.MethodGet, groupPath(pk), url.Values{"include_users": {"false"}}, nil, nil)
	if status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

func (u *liveUpstream) CreateForeign(ctx context.Context, name, tenantID string) (string, error) {
	return u.CreateGroup(ctx, name, foreignAttrs(tenantID))
}

func (u *liveUpstream) CreateGroup(ctx context.Context, name string, attrs map[string]any) (string, error) {
	if attrs == nil {
		attrs = map[string]any{} // GroupRequest's attributes is an object, never null
	}
	var g liveGroup
	_, err := u.call(ctx, http.MethodPost, "/core/groups/", nil, map[string]any{"name": name, "attributes": attrs}, &g)
	return g.PK, err
}

func (u *liveUpstream) Attributes(ctx context.Context, pk string) (map[string]any, error) {
	g, err := u.group(ctx, pk)
	return g.Attributes, err
}

// SetAttributes sends the whole attributes object: Authentik replaces it on PATCH.
func (u *liveUpstream) SetAttributes(ctx context.Context, pk string, attrs map[string]any) error {
	_, err := u.call(ctx, http.MethodPatch, groupPath(pk), nil, map[string]any{"attributes": attrs}, nil)
	return err
}

// Remove deletes a group; gone is success.
func (u *liveUpstream) Remove(ctx context.Context, pk string) error {
	status, err := u.call(ctx, http.MethodDelete, groupPath(pk), nil, nil, nil)
	if status == http.StatusNotFound {
		return nil
	}
	return err
}

func (u *liveUpstream) deleteUser(ctx context.Context, pk int) error {
	status, err := u.call(ctx, http.MethodDelete, "/core/users/"+strconv.Itoa(pk)+"/", nil, nil, nil)
	if status == http.StatusNotFound {
		return nil
	}
	return err
}

// Sweep removes the groups and the owner accounts an earlier run left: only names starting
// with prefix, and never this run's owner. Everything is listed before anything is deleted, so
// deleting does not shift the pages being read.
func (u *liveUpstream) Sweep(ctx context.Context, prefix string) error {
	groups, err := u.groupsNamed(ctx, prefix)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if err := u.Remove(ctx, g.PK); err != nil {
			return err
		}
	}
	var users []int
	err = u.list(ctx, "/core/users/", url.Values{"search": {prefix}, "include_groups": {"false"}, "include_roles": {"false"}}, func(raw json.RawMessage) error {
		var usr struct {
			PK       int    `json:"pk"`
			Username string `json:"username"`
		}
		if err := json.Unmarshal(raw, &usr); err != nil {
			return err
		}
		if strings.HasPrefix(usr.Username, prefix) && usr.PK != u.ownerPK {
			users = append(users, usr.PK)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, pk := range users {
		if err := u.deleteUser(ctx, pk); err != nil {
			return err
		}
	}
	return nil
}

// simBackedUpstream is the live upstream pointed at a fresh simulator.
func simBackedUpstream(t *testing.T) (*liveUpstream, *authentiksim.Server, *httptest.Server) {
	t.Helper()
	sim := authentiksim.New(authentiksim.Options{Token: simToken})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &liveUpstream{api: srv.URL + authentiksim.APIPrefix, token: simToken, http: srv.Client()}, sim, srv
}

// TestLiveUpstreamFollowsTheAPIDocument sends every request the live half makes (tampers,
// reads, the owner account, the sweep) to the simulator and validates each against
// Authentik's OpenAPI document: operation, query parameters, body properties.
func TestLiveUpstreamFollowsTheAPIDocument(t *testing.T) {
	// Loading the 90,000-line document dominates the run; let the rest of the package overlap.
	t.Parallel()
	p := apispec.Path(t, "authentik-schema.yml")
	u, sim, srv := simBackedUpstream(t)
	v, err := apispec.Load(p, srv.URL+authentiksim.APIPrefix)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The simulator does not create or delete users over HTTP (it seeds them); the requests
	// are recorded all the same and checked below.
	_ = u.createOwner(ctx)
	_ = u.deleteUser(ctx, 1)
	u.ownerPK = sim.AddUser(accPrefix+"owner", accPrefix+"owner@example.com")

	for i, tp := range authentikTampers {
		id, slug := acceptance.NewTenant()
		d := integrations.Desired{TenantID: id, Slug: fmt.Sprint(slug, i)}
		pk, err := u.CreateGroup(ctx, accPrefix+d.Slug, map[string]any{authentik.AttrTenantID: id})
		if err != nil {
			t.Fatal(err)
		}
		d.ExternalID = pk
		if err := u.Tamper(ctx, d, tp.Name); err != nil {
			t.Errorf("tamper %q: %v", tp.Name, err)
		}
	}
	pk, err := u.CreateForeign(ctx, accPrefix+"foreign", "665f1c2ab3d4e5f6ffffffff")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Attributes(ctx, pk); err != nil {
		t.Error(err)
	}
	if _, err := u.CountOwned(ctx, integrations.Desired{TenantID: "665f1c2ab3d4e5f6ffffffff"}); err != nil {
		t.Error(err)
	}
	if ok, err := u.Exists(ctx, pk); err != nil || !ok {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	if err := u.Sweep(ctx, accPrefix); err != nil {
		t.Error(err)
	}

	seen := map[string]bool{}
	for _, r := range sim.Faults().Requests() {
		seen[r.Method] = true
		if err := v.Validate(srv.URL, r); err != nil {
			t.Error(err)
		}
	}
	for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
		if !seen[m] {
			t.Errorf("no %s request was sent; the check does not cover the live half", m)
		}
	}
}

// TestLiveSweep: the sweep removes every group whose name starts with the prefix, however many
// pages they fill, and nothing else; it keeps the run's own owner account.
func TestLiveSweep(t *testing.T) {
	u, sim, _ := simBackedUpstream(t)
	u.ownerPK = sim.AddUser(accPrefix+"owner-current", "o@example.com")
	sim.AddUser("someone", "someone@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 150 { // more than Authentik's default page of 100
		if _, err := u.CreateGroup(ctx, fmt.Sprintf("%sleft-%03d", accPrefix, i), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"tenant-acme", "x" + accPrefix + "inside"} {
		if _, err := u.CreateGroup(ctx, name, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Sweep(ctx, accPrefix); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, g := range sim.Groups() {
		left = append(left, g.Name)
	}
	if diff := cmp.Diff([]string{"tenant-acme", "x" + accPrefix + "inside"}, left); diff != "" {
		t.Errorf("groups after the sweep (-want +got):\n%s", diff)
	}
}
