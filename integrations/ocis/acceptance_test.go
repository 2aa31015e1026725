package ocis_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/acceptance"
	"github.com/dezky/platform-api/integrations/ocis"
	ocissim "github.com/dezky/platform-api/integrations/sim/ocis"
)

// The oCIS acceptance suite: the shared scenario table against the simulator, always, and
// against a live oCIS when these are set:
//
//	LIVE_OCIS_URL             oCIS base URL, e.g. http://localhost:9200
//	LIVE_OCIS_TOKEN_URL       the IdP's token endpoint oCIS trusts
//	LIVE_OCIS_CLIENT_ID       the service account (oCIS role ocisAdmin)
//	LIVE_OCIS_CLIENT_SECRET
//	LIVE_CA_FILE              optional: PEM of a private CA for both
//	LIVE_OCIS_ADMIN_CLIENT_ID optional: a second ocisAdmin identity at the same token
//	LIVE_OCIS_ADMIN_CLIENT_SECRET  endpoint, the out-of-band administrator. Without it the
//	                          service account tampers itself and the not-a-member case skips.
//
// Everything it creates is named with accPrefix and removed afterwards; leftovers of an
// interrupted run are swept at the start.

// accPrefix starts the name of every space and group the suite creates.
const accPrefix = "dezky-acc-"

func TestAcceptance(t *testing.T) {
	t.Run("simulator", func(t *testing.T) {
		sim := ocissim.New(ocissim.Options{ClientID: clientID, ClientSecret: clientSecret})
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		up := &simUpstream{sim: sim}
		acceptance.Run(t, ocisSuite(srv.URL, ocissim.TokenURL(srv.URL), clientID, clientSecret, nil, up))
	})
	t.Run("live", func(t *testing.T) {
		env := acceptance.LiveEnv(t, "oCIS", "LIVE_OCIS_URL", "LIVE_OCIS_TOKEN_URL", "LIVE_OCIS_CLIENT_ID", "LIVE_OCIS_CLIENT_SECRET")
		up, base := newLiveUpstream(t, env)
		acceptance.Run(t, ocisSuite(env["LIVE_OCIS_URL"], env["LIVE_OCIS_TOKEN_URL"], env["LIVE_OCIS_CLIENT_ID"], env["LIVE_OCIS_CLIENT_SECRET"], base, up))
	})
}

// ocisUpstream is the out-of-band side the oCIS suite needs beyond the shared one.
type ocisUpstream interface {
	acceptance.Upstream
	// CreateAsOtherAdmin creates a project space carrying tenantID's marker as an administrator
	// other than the service account, which is then not a member. It skips t when no such
	// identity is configured.
	CreateAsOtherAdmin(t *testing.T, ctx context.Context, name, tenantID string) string
}

func ocisSuite(baseURL, tokenURL, id, secret string, base http.RoundTripper, up ocisUpstream) acceptance.Suite {
	return acceptance.Suite{
		Prefix: accPrefix,
		NewStep: func(t *testing.T, rt http.RoundTripper) integrations.Step {
			c, err := ocis.New(ocis.Config{BaseURL: baseURL, TokenURL: tokenURL, ClientID: id, ClientSecret: secret,
				GroupPrefix: accPrefix, HTTP: integrations.HTTPOptions{Transport: rt, Timeout: 20 * time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		Base:     base,
		Upstream: up,
		Desired: func(tenantID, slug string) integrations.Desired {
			return integrations.Desired{TenantID: tenantID, Slug: slug, Name: accPrefix + slug, Plan: "starter", StorageQuotaBytes: 1 << 30}
		},
		IsCreate: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/graph/v1.0/drives")
		},
		NotAWrite: func(r *http.Request) bool { return r.URL.String() == tokenURL },
		Extra:     []acceptance.Scenario{{Name: "not a member is permanent", Run: func(h *acceptance.Harness) { notAMember(h, up) }}},
	}
}

// notAMember: a marked space created by another administrator cannot be managed by the service
// account (oCIS answers 404 on its root). The step stops before writing anything, with a
// permanent error naming the space and telling the operator what to do; Delete still removes it.
func notAMember(h *acceptance.Harness, up ocisUpstream) {
	d := h.Tenant()
	id := up.CreateAsOtherAdmin(h.T, h.Ctx(), accPrefix+d.Slug, d.TenantID)
	h.T.Cleanup(func() {
		if err := up.Remove(context.Background(), id); err != nil {
			h.T.Errorf("cleanup: %v", err)
		}
	})
	h.Rec.Writes()
	_, err := h.Converge(d)
	if !integrations.IsPermanent(err) {
		h.T.Fatalf("reconcile: %v, want permanent", err)
	}
	for _, text := range []string{err.Error(), integrations.Describe(integrations.UpstreamNoun(integrations.StepOCIS), err)} {
		if !strings.Contains(text, id) || !strings.Contains(text, "add it as Manager") {
			h.T.Errorf("the error %q does not name the space and the remedy", text)
		}
	}
	if w := h.Rec.Writes(); len(w) != 0 {
		h.T.Errorf("wrote before failing: %v", w)
	}
	h.Owned(*d, 1, "after the refusal")
	if err := h.Step.Delete(h.Ctx(), *d); err != nil {
		h.T.Fatalf("Delete: %v", err)
	}
	if ok, err := up.Exists(h.Ctx(), id); err != nil || ok {
		h.T.Errorf("after Delete the space exists: %v, %v", ok, err)
	}
}

// Tampers both upstreams make, as a person would in the web UI or with the API.
const (
	tamperPurged      = "space purged"
	tamperRenamed     = "space renamed"
	tamperMarker      = "marker removed"
	tamperQuota       = "quota changed"
	tamperDisabled    = "space disabled"
	tamperGroup       = "group deleted"
	tamperRevoked     = "grant revoked"
	tamperRoleLowered = "role lowered"
)

var ocisTampers = []acceptance.Tamper{
	{Name: tamperPurged, Field: integrations.FieldSpace},
	{Name: tamperRenamed, Field: integrations.FieldName},
	{Name: tamperMarker, Field: integrations.FieldDescription},
	{Name: tamperQuota, Field: integrations.FieldQuota},
	{Name: tamperDisabled, Field: integrations.FieldEnabled},
	{Name: tamperGroup, Field: integrations.FieldGroup},
	{Name: tamperRevoked, Field: integrations.FieldGrant},
	{Name: tamperRoleLowered, Field: integrations.FieldGrant},
}

// simUpstream tampers through the simulator's out-of-band methods.
type simUpstream struct{ sim *ocissim.Server }

func (u *simUpstream) Tampers() []acceptance.Tamper { return ocisTampers }

func (u *simUpstream) Tamper(_ context.Context, d integrations.Desired, name string) error {
	id := d.ExternalID
	var g ocissim.Group
	for _, grp := range u.sim.Groups() {
		if grp.DisplayName == ocis.GroupName(accPrefix, d.Slug) {
			g = grp
		}
	}
	ok := false
	switch name {
	case tamperPurged:
		ok = u.sim.DeleteDrive(id)
	case tamperRenamed:
		ok = u.sim.SetName(id, accPrefix+"renamed by hand")
	case tamperMarker:
		ok = u.sim.SetDescription(id, "changed by hand")
	case tamperQuota:
		ok = u.sim.SetQuota(id, 1<<20)
	case tamperDisabled:
		ok = u.sim.DisableDrive(id)
	case tamperGroup:
		ok = u.sim.DeleteGroup(g.ID)
	case tamperRevoked:
		ok = u.sim.RevokeGroup(id, g.ID)
	case tamperRoleLowered:
		ok = u.sim.SetGroupRole(id, g.ID, ocissim.RoleSpaceViewer)
	default:
		return fmt.Errorf("unknown tamper %q", name)
	}
	if !ok {
		return fmt.Errorf("%s: nothing to change for %s", name, d.Slug)
	}
	return nil
}

func (u *simUpstream) CountOwned(_ context.Context, d integrations.Desired) (int, error) {
	n := 0
	for _, sp := range u.sim.Drives() {
		if integrations.OwnerOfText(sp.Description, d.TenantID) == integrations.Ours {
			n++
		}
	}
	return n, nil
}

func (u *simUpstream) Exists(_ context.Context, id string) (bool, error) {
	_, ok := u.sim.Drive(id)
	return ok, nil
}

func (u *simUpstream) CreateForeign(_ context.Context, name, tenantID string) (string, error) {
	return u.sim.CreateDriveOutOfBand(name, integrations.Marker(tenantID)).ID, nil
}

func (u *simUpstream) CreateAsOtherAdmin(_ *testing.T, _ context.Context, name, tenantID string) string {
	return u.sim.CreateDriveOutOfBand(name, integrations.Marker(tenantID)).ID
}

func (u *simUpstream) Remove(_ context.Context, id string) error {
	u.sim.DeleteDrive(id)
	return nil
}

// Sweep has nothing to do: every run starts a fresh simulator.
func (u *simUpstream) Sweep(context.Context, string) error { return nil }
