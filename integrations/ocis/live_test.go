package ocis_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/acceptance"
	"github.com/dezky/platform-api/integrations/ocis"
)

// liveUpstream is the out-of-band side against a real oCIS: the libre-graph API called with
// tokens of its own, never through the client under test.
type liveUpstream struct {
	graph string
	http  *http.Client
	// admin is the out-of-band administrator; svc is the service account itself. A space's
	// grants can only be changed by one of its managers (oCIS answers an administrator that is
	// not a member with 500), so grant tampers act as the service account, the space's manager.
	admin, svc oauth2.TokenSource
	// otherAdmin is false when no second identity is configured (admin is then svc).
	otherAdmin bool
}

func newLiveUpstream(t *testing.T, env map[string]string) (*liveUpstream, http.RoundTripper) {
	t.Helper()
	hc, err := integrations.NewHTTPClient(integrations.HTTPOptions{CAFile: os.Getenv("LIVE_CA_FILE"), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	source := func(id, secret string) oauth2.TokenSource {
		cfg := &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: env["LIVE_OCIS_TOKEN_URL"],
			Scopes: ocis.DefaultScopes, AuthStyle: oauth2.AuthStyleInHeader}
		return cfg.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, hc))
	}
	u := &liveUpstream{
		graph: strings.TrimSuffix(strings.TrimRight(env["LIVE_OCIS_URL"], "/"), "/graph") + "/graph",
		http:  hc,
		svc:   source(env["LIVE_OCIS_CLIENT_ID"], env["LIVE_OCIS_CLIENT_SECRET"]),
	}
	u.admin = u.svc
	if id, secret := os.Getenv("LIVE_OCIS_ADMIN_CLIENT_ID"), os.Getenv("LIVE_OCIS_ADMIN_CLIENT_SECRET"); id != "" && secret != "" {
		u.admin, u.otherAdmin = source(id, secret), true
	}
	return u, hc.Transport
}

// call makes one libre-graph request as who and decodes a JSON answer into out.
func (u *liveUpstream) call(ctx context.Context, who oauth2.TokenSource, method, path string, body, out any, hdr ...string) (int, error) {
	tok, err := who.Token()
	if err != nil {
		return 0, fmt.Errorf("token: %w", err)
	}
	h := http.Header{"Authorization": {tok.Type() + " " + tok.AccessToken}}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	return acceptance.CallJSON(ctx, u.http, method, u.graph+path, h, body, out)
}

type liveDrive struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func drivePathOf(id string) string { return "/v1.0/drives/" + url.PathEscape(id) }

func (u *liveUpstream) projectDrives(ctx context.Context) ([]liveDrive, error) {
	var l struct {
		Value []liveDrive `json:"value"`
	}
	_, err := u.call(ctx, u.admin, http.MethodGet, "/v1.0/drives?$filter="+url.QueryEscape("driveType eq 'project'"), nil, &l)
	return l.Value, err
}

func (u *liveUpstream) groupsNamed(ctx context.Context, prefix string) ([]ocisGroup, error) {
	var l struct {
		Value []ocisGroup `json:"value"`
	}
	if _, err := u.call(ctx, u.admin, http.MethodGet, "/v1.0/groups?$search="+url.QueryEscape(`"`+prefix+`"`), nil, &l); err != nil {
		return nil, err
	}
	var out []ocisGroup
	for _, g := range l.Value {
		if strings.HasPrefix(g.DisplayName, prefix) {
			out = append(out, g)
		}
	}
	return out, nil
}

type ocisGroup struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

func (u *liveUpstream) Tampers() []acceptance.Tamper { return ocisTampers }

func (u *liveUpstream) Tamper(ctx context.Context, d integrations.Desired, name string) error {
	id := d.ExternalID
	patch := func(body any) error {
		_, err := u.call(ctx, u.admin, http.MethodPatch, drivePathOf(id), body, nil)
		return err
	}
	groupID := func() (string, error) {
		gs, err := u.groupsNamed(ctx, ocis.GroupName(accPrefix, d.Slug))
		for _, g := range gs {
			if g.DisplayName == ocis.GroupName(accPrefix, d.Slug) {
				return g.ID, err
			}
		}
		return "", fmt.Errorf("group of %s not found (%v)", d.Slug, err)
	}
	perm := func() (string, error) {
		gid, err := groupID()
		return "/v1beta1/drives/" + url.PathEscape(id) + "/root/permissions/g:" + url.PathEscape(gid), err
	}
	switch name {
	case tamperPurged:
		return u.Remove(ctx, id)
	case tamperRenamed:
		return patch(map[string]any{"name": accPrefix + "renamed by hand"})
	case tamperMarker:
		return patch(map[string]any{"description": "changed by hand"})
	case tamperQuota:
		return patch(map[string]any{"quota": map[string]any{"total": 1 << 20}})
	case tamperDisabled:
		_, err := u.call(ctx, u.admin, http.MethodDelete, drivePathOf(id), nil, nil)
		return err
	case tamperGroup:
		gid, err := groupID()
		if err != nil {
			return err
		}
		_, err = u.call(ctx, u.admin, http.MethodDelete, "/v1.0/groups/"+url.PathEscape(gid), nil, nil)
		return err
	case tamperRevoked:
		p, err := perm()
		if err != nil {
			return err
		}
		_, err = u.call(ctx, u.svc, http.MethodDelete, p, nil, nil)
		return err
	case tamperRoleLowered:
		p, err := perm()
		if err != nil {
			return err
		}
		_, err = u.call(ctx, u.svc, http.MethodPatch, p, map[string]any{"roles": []string{"a8d5fe5e-96e3-418d-825b-534dbdf22b99"}}, nil)
		return err
	}
	return fmt.Errorf("unknown tamper %q", name)
}

func (u *liveUpstream) CountOwned(ctx context.Context, d integrations.Desired) (int, error) {
	drives, err := u.projectDrives(ctx)
	n := 0
	for _, sp := range drives {
		if integrations.OwnerOfText(sp.Description, d.TenantID) == integrations.Ours {
			n++
		}
	}
	return n, err
}

func (u *liveUpstream) Exists(ctx context.Context, id string) (bool, error) {
	status, err := u.call(ctx, u.admin, http.MethodGet, drivePathOf(id), nil, nil)
	if status == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

func (u *liveUpstream) create(ctx context.Context, name, tenantID string) (string, error) {
	var sp liveDrive
	_, err := u.call(ctx, u.admin, http.MethodPost, "/v1.0/drives",
		map[string]any{"name": name, "driveType": "project", "description": integrations.Marker(tenantID)}, &sp)
	return sp.ID, err
}

func (u *liveUpstream) CreateForeign(ctx context.Context, name, tenantID string) (string, error) {
	return u.create(ctx, name, tenantID)
}

func (u *liveUpstream) CreateAsOtherAdmin(t *testing.T, ctx context.Context, name, tenantID string) string {
	t.Helper()
	if !u.otherAdmin {
		t.Skip("needs a second administrator: LIVE_OCIS_ADMIN_CLIENT_ID and LIVE_OCIS_ADMIN_CLIENT_SECRET not set")
	}
	id, err := u.create(ctx, name, tenantID)
	if err != nil {
		t.Fatalf("create as the other administrator: %v", err)
	}
	return id
}

// Remove disables, then purges (oCIS refuses to purge an enabled space); gone is success.
func (u *liveUpstream) Remove(ctx context.Context, id string) error {
	for _, hdr := range [][]string{nil, {"Purge", "T"}} {
		status, err := u.call(ctx, u.admin, http.MethodDelete, drivePathOf(id), nil, nil, hdr...)
		if status == http.StatusNotFound {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Sweep removes the spaces and groups a previous run left: only names starting with prefix.
func (u *liveUpstream) Sweep(ctx context.Context, prefix string) error {
	drives, err := u.projectDrives(ctx)
	if err != nil {
		return err
	}
	for _, sp := range drives {
		if strings.HasPrefix(sp.Name, prefix) {
			if err := u.Remove(ctx, sp.ID); err != nil {
				return err
			}
		}
	}
	groups, err := u.groupsNamed(ctx, prefix)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if status, err := u.call(ctx, u.admin, http.MethodDelete, "/v1.0/groups/"+url.PathEscape(g.ID), nil, nil); err != nil && status != http.StatusNotFound {
			return err
		}
	}
	return nil
}
