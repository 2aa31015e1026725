package stalwart_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/acceptance"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
	"github.com/dezky/platform-api/integrations/stalwart"
)

// The Stalwart acceptance suite: the shared scenario table against the simulator, always, and
// against a live Stalwart (v0.16+, JMAP management) when these are set:
//
//	LIVE_STALWART_URL    Stalwart base URL, e.g. https://mail.example.com (the session is
//	                     discovered at /.well-known/jmap)
//	LIVE_STALWART_TOKEN  an API key secret or OAuth access token with the sysDomain*,
//	                     sysAccount* and sysDkimSignature* permissions
//	LIVE_CA_FILE         optional: PEM of a private CA
//
// Every mail domain it creates is named accPrefix<slug>.example.com and removed afterwards
// (with its accounts and DKIM signatures); the prefix is swept at the start, for what an
// interrupted run left, and at the end.

// accPrefix starts the name of every domain the suite creates.
const accPrefix = "dezky-acc-"

// accToken is the simulator's API key.
const accToken = "stalwart-acceptance-key"

// accQuota is the tenants' mail quota.
const accQuota = int64(1) << 30

// domainOf is the mail domain of a suite tenant: a name under example.com (reserved for
// documentation, so no mail for it ever reaches anyone) starting with the prefix.
func domainOf(slug string) string { return accPrefix + slug + ".example.com" }

func TestAcceptance(t *testing.T) {
	t.Run("simulator", func(t *testing.T) {
		sim := stalwartsim.New(stalwartsim.Options{Token: accToken})
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		acceptance.Run(t, stalwartSuite(srv.URL, accToken, nil, &simUpstream{sim: sim}))
	})
	// The live half's out-of-band side, tampering over JMAP, run against the simulator: the
	// only place it runs where no Stalwart is available, so a call the simulator refuses (a
	// wrong method, argument or shape) shows here before it meets a real server.
	t.Run("simulator over jmap", func(t *testing.T) {
		sim := stalwartsim.New(stalwartsim.Options{Token: accToken})
		srv := httptest.NewServer(sim)
		t.Cleanup(srv.Close)
		up := &liveUpstream{base: srv.URL, token: accToken, http: srv.Client()}
		acceptance.Run(t, stalwartSuite(srv.URL, accToken, nil, up))
	})
	t.Run("live", func(t *testing.T) {
		env := acceptance.LiveEnv(t, "Stalwart", "LIVE_STALWART_URL", "LIVE_STALWART_TOKEN")
		up, base := newLiveUpstream(t, env)
		acceptance.Run(t, stalwartSuite(env["LIVE_STALWART_URL"], env["LIVE_STALWART_TOKEN"], base, up))
	})
}

// stalwartUpstream is the out-of-band side the Stalwart suite needs beyond the shared one.
type stalwartUpstream interface {
	acceptance.Upstream
	// CreateDomain creates a domain named name with description (none when empty), as an
	// administrator would in the web UI.
	CreateDomain(ctx context.Context, name, description string) (string, error)
	// Description reads the description of the domain with id.
	Description(ctx context.Context, id string) (string, error)
	// ReplaceTeam destroys team@ on the domain with id and creates a Group account of that
	// name carrying tenantID's marker.
	ReplaceTeam(ctx context.Context, id, tenantID string) error
	// TeamDescription reads the description of team@ on the domain with id; false when there
	// is no such account.
	TeamDescription(ctx context.Context, id string) (string, bool, error)
}

func stalwartSuite(baseURL, token string, base http.RoundTripper, up stalwartUpstream) acceptance.Suite {
	return acceptance.Suite{
		Prefix: accPrefix,
		NewStep: func(t *testing.T, rt http.RoundTripper) integrations.Step {
			c, err := stalwart.New(stalwart.Config{BaseURL: baseURL, Token: token,
				HTTP: integrations.HTTPOptions{Transport: rt, Timeout: 20 * time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		Base:     base,
		Upstream: up,
		Desired: func(tenantID, slug string) integrations.Desired {
			return integrations.Desired{TenantID: tenantID, Slug: slug, Name: "Acceptance " + slug, Plan: "starter",
				MailDomain: domainOf(slug), MailQuotaBytes: accQuota}
		},
		IsCreate: func(r *http.Request) bool {
			for _, c := range jmapCalls(r) {
				if _, create := c.args["create"]; create && c.name == "x:Domain/set" {
					return true
				}
			}
			return false
		},
		// Every JMAP call is a POST to the session's apiUrl: a request writes when one of its
		// calls is a /set. A request whose body cannot be read again counts as a write, so a
		// check of "no writes" can only fail, never pass, by mistake.
		NotAWrite: func(r *http.Request) bool {
			calls := jmapCalls(r)
			for _, c := range calls {
				if strings.HasSuffix(c.name, "/set") {
					return false
				}
			}
			return len(calls) > 0
		},
		DescribeWrite: func(r *http.Request) string {
			var names []string
			for _, c := range jmapCalls(r) {
				names = append(names, c.name)
			}
			return r.Method + " " + r.URL.Path + " " + strings.Join(names, ",")
		},
		// A recorded domain that spec.mail.domain no longer names is set aside (it is the
		// previous domain), so the foreign domain must hold the tenant's own name.
		ForeignName: func(d integrations.Desired) string { return d.MailDomain },
		Extra: []acceptance.Scenario{
			{Name: "unmarked domain is adopted", Run: func(h *acceptance.Harness) { unmarkedAdopted(h, up) }},
			{Name: "foreign team account is permanent and left", Run: func(h *acceptance.Harness) { foreignTeam(h, up) }},
			{Name: "mail domain changed", Run: domainChanged},
			{Name: "mail domain removed", Run: domainRemoved},
		},
	}
}

// jmapCall is one JMAP method call of a recorded request.
type jmapCall struct {
	name string
	args map[string]json.RawMessage
}

// jmapCalls reads the method calls of a JMAP request. The Recorder sees the request after it
// was sent, so the body is read again through GetBody (set for every request the client makes
// from a byte slice). Nil when there is none or it cannot be read.
func jmapCalls(r *http.Request) []jmapCall {
	if r.Method != http.MethodPost || r.GetBody == nil {
		return nil
	}
	rc, err := r.GetBody()
	if err != nil {
		return nil
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil
	}
	var body struct {
		MethodCalls [][]json.RawMessage `json:"methodCalls"`
	}
	if json.Unmarshal(raw, &body) != nil {
		return nil
	}
	var out []jmapCall
	for _, mc := range body.MethodCalls {
		var c jmapCall
		if len(mc) != 3 || json.Unmarshal(mc[0], &c.name) != nil || json.Unmarshal(mc[1], &c.args) != nil {
			return nil
		}
		out = append(out, c)
	}
	return out
}

// unmarkedAdopted: a domain of the tenant's name without a marker (made by hand before the
// tenant existed) is adopted: the marker is appended to its description, and the team account
// is made on it.
func unmarkedAdopted(h *acceptance.Harness, up stalwartUpstream) {
	d := h.Tenant()
	id, err := up.CreateDomain(h.Ctx(), d.MailDomain, "made by hand")
	if err != nil {
		h.T.Fatalf("create the unmarked domain: %v", err)
	}
	h.T.Cleanup(func() {
		// Until the adoption succeeded, the tenant's Delete leaves an unmarked domain alone.
		if err := up.Remove(h.Ctx(), id); err != nil {
			h.T.Errorf("cleanup: %v", err)
		}
	})
	if res := h.MustConverge(d); res.ExternalID != id {
		h.T.Errorf("reconcile: %+v, want the domain %s", res, id)
	}
	desc, err := up.Description(h.Ctx(), id)
	if err != nil {
		h.T.Fatal(err)
	}
	if !strings.Contains(desc, "made by hand") || integrations.OwnerOfText(desc, d.TenantID) != integrations.Ours {
		h.T.Errorf("description after the adoption: %q", desc)
	}
	h.InSync(*d, "after the adoption")
	h.Owned(*d, 1, "after the adoption")
}

// foreignTeam: team@ on the tenant's domain carrying another tenant's marker is reported as
// groupAccount drift, refused before any write, and left in place by Delete together with the
// domain it keeps linked.
func foreignTeam(h *acceptance.Harness, up stalwartUpstream) {
	d := h.Tenant()
	h.MustConverge(d)
	id := d.ExternalID
	h.T.Cleanup(func() {
		if err := up.Remove(h.Ctx(), id); err != nil {
			h.T.Errorf("cleanup: %v", err)
		}
	})
	other, _ := acceptance.NewTenant()
	if err := up.ReplaceTeam(h.Ctx(), id, other); err != nil {
		h.T.Fatalf("replace team@: %v", err)
	}
	addr := "team@" + d.MailDomain
	want := []integrations.Drift{{Field: integrations.FieldGroupAccount, Want: addr + " (Group)", Got: addr + " (another tenant's)"}}
	if diff := cmp.Diff(want, h.Observe(*d).Drift); diff != "" {
		h.T.Errorf("drift (-want +got):\n%s", diff)
	}
	h.Rec.Writes()
	if _, err := h.Converge(d); !integrations.IsPermanent(err) {
		h.T.Errorf("reconcile: %v, want permanent", err)
	}
	if err := h.Step.Delete(h.Ctx(), *d); err != nil {
		h.T.Errorf("Delete: %v", err)
	}
	if w := h.Rec.Writes(); len(w) != 0 {
		h.T.Errorf("wrote with another tenant's account on the domain: %v", w)
	}
	if ok, err := up.Exists(h.Ctx(), id); err != nil || !ok {
		h.T.Errorf("the domain is gone: %v, %v", ok, err)
	}
	desc, found, err := up.TeamDescription(h.Ctx(), id)
	if err != nil || !found || integrations.OwnerOfText(desc, other) != integrations.Ours {
		h.T.Errorf("the other tenant's team@: %q, found %v, %v", desc, found, err)
	}
}

// domainChanged: a new spec.mail.domain is drift of the domain field naming the old one; the
// reconcile makes the new domain and removes the old.
func domainChanged(h *acceptance.Harness) {
	d := h.Tenant()
	old := h.MustConverge(d).ExternalID
	d.MailDomain = domainOf(d.Slug + "-new")
	want := []integrations.Drift{{Field: integrations.FieldDomain, Want: d.MailDomain, Got: domainOf(d.Slug)}}
	if diff := cmp.Diff(want, h.Observe(*d).Drift); diff != "" {
		h.T.Errorf("drift (-want +got):\n%s", diff)
	}
	if res := h.MustConverge(d); res.ExternalID == old {
		h.T.Errorf("reconcile: %+v, want a new domain", res)
	}
	if ok, err := h.Up.Exists(h.Ctx(), old); err != nil || ok {
		h.T.Errorf("the old domain exists: %v, %v", ok, err)
	}
	h.InSync(*d, "after the change")
	h.Owned(*d, 1, "after the change")
}

// domainRemoved: removing spec.mail makes the recorded domain drift (want none); the reconcile
// removes it and the step is skipped from then on.
func domainRemoved(h *acceptance.Harness) {
	d := h.Tenant()
	old := h.MustConverge(d).ExternalID
	name := d.MailDomain
	d.MailDomain = ""
	want := []integrations.Drift{{Field: integrations.FieldDomain, Want: "none", Got: name}}
	if diff := cmp.Diff(want, h.Observe(*d).Drift); diff != "" {
		h.T.Errorf("drift (-want +got):\n%s", diff)
	}
	h.MustConverge(d)
	if ok, err := h.Up.Exists(h.Ctx(), old); err != nil || ok {
		h.T.Errorf("the domain exists: %v, %v", ok, err)
	}
	if o := h.Observe(*d); !o.Skipped {
		h.T.Errorf("Observe = %+v, want skipped", o)
	}
}

// Tampers both upstreams make, as an administrator would in the web UI or over JMAP.
const (
	tamperDomainDeleted = "domain deleted"
	tamperMarker        = "domain marker removed"
	tamperDisabled      = "domain disabled"
	tamperTeamDeleted   = "team account deleted"
	tamperTeamMarker    = "team account marker removed"
	tamperQuota         = "quota changed"
)

var stalwartTampers = []acceptance.Tamper{
	{Name: tamperDomainDeleted, Field: integrations.FieldDomain},
	{Name: tamperMarker, Field: integrations.FieldDescription},
	{Name: tamperDisabled, Field: integrations.FieldEnabled},
	{Name: tamperTeamDeleted, Field: integrations.FieldGroupAccount},
	{Name: tamperTeamMarker, Field: integrations.FieldGroupAccount},
	{Name: tamperQuota, Field: integrations.FieldQuota},
}

// Values the tampers write.
const (
	byHand      = "changed by hand"
	tamperBytes = int64(1) << 20
)

// simUpstream tampers through the simulator's out-of-band methods (which address objects by
// name, hence the lookups by id first).
type simUpstream struct{ sim *stalwartsim.Server }

func (u *simUpstream) domain(id string) (stalwartsim.Domain, bool) {
	for _, dom := range u.sim.Domains() {
		if dom.ID == id {
			return dom, true
		}
	}
	return stalwartsim.Domain{}, false
}

func (u *simUpstream) team(domainID string) (stalwartsim.Account, bool) {
	for _, a := range u.sim.Accounts() {
		if a.DomainID == domainID && a.Name == "team" {
			return a, true
		}
	}
	return stalwartsim.Account{}, false
}

func (u *simUpstream) Tampers() []acceptance.Tamper { return stalwartTampers }

func (u *simUpstream) Tamper(_ context.Context, d integrations.Desired, name string) error {
	dom, ok := u.domain(d.ExternalID)
	if !ok {
		return fmt.Errorf("%s: no domain %s", name, d.ExternalID)
	}
	switch name {
	case tamperDomainDeleted:
		u.sim.DeleteDomain(dom.Name)
		return nil
	case tamperMarker:
		return u.sim.SetDomainDescription(dom.Name, byHand)
	case tamperDisabled:
		return u.sim.SetDomainEnabled(dom.Name, false)
	case tamperTeamDeleted:
		if !u.sim.DeleteAccount(dom.Name, "team") {
			return fmt.Errorf("%s: no team@%s", name, dom.Name)
		}
		return nil
	case tamperTeamMarker:
		return u.sim.SetAccountDescription(dom.Name, "team", byHand)
	case tamperQuota:
		return u.sim.SetAccountQuota(dom.Name, "team", tamperBytes)
	}
	return fmt.Errorf("unknown tamper %q", name)
}

func (u *simUpstream) CountOwned(_ context.Context, d integrations.Desired) (int, error) {
	n := 0
	for _, dom := range u.sim.Domains() {
		if integrations.OwnerOfText(dom.Description, d.TenantID) == integrations.Ours {
			n++
		}
	}
	return n, nil
}

func (u *simUpstream) Exists(_ context.Context, id string) (bool, error) {
	_, ok := u.domain(id)
	return ok, nil
}

func (u *simUpstream) CreateForeign(ctx context.Context, name, tenantID string) (string, error) {
	return u.CreateDomain(ctx, name, integrations.Marker(tenantID))
}

func (u *simUpstream) CreateDomain(_ context.Context, name, description string) (string, error) {
	return u.sim.CreateDomainOutOfBand(name, description)
}

func (u *simUpstream) Description(_ context.Context, id string) (string, error) {
	dom, ok := u.domain(id)
	if !ok {
		return "", fmt.Errorf("no domain %s", id)
	}
	return dom.Description, nil
}

func (u *simUpstream) ReplaceTeam(_ context.Context, id, tenantID string) error {
	dom, ok := u.domain(id)
	if !ok {
		return fmt.Errorf("no domain %s", id)
	}
	u.sim.DeleteAccount(dom.Name, "team")
	_, err := u.sim.CreateAccountOutOfBand("Group", dom.Name, "team", integrations.Marker(tenantID), 0)
	return err
}

func (u *simUpstream) TeamDescription(_ context.Context, id string) (string, bool, error) {
	a, ok := u.team(id)
	return a.Description, ok, nil
}

// Remove deletes the domain with its accounts and DKIM signatures; gone is success.
func (u *simUpstream) Remove(_ context.Context, id string) error {
	if dom, ok := u.domain(id); ok {
		u.sim.DeleteDomain(dom.Name)
	}
	return nil
}

// Sweep has nothing to do: every run starts a fresh simulator.
func (u *simUpstream) Sweep(context.Context, string) error { return nil }
