package stalwart_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations"
	"github.com/dezky/platform-api/integrations/acceptance"
	"github.com/dezky/platform-api/integrations/integrationstest"
	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
	"github.com/dezky/platform-api/integrations/stalwart"
)

// liveUpstream is the out-of-band side against a real Stalwart: the JMAP management API
// (x:Domain, x:Account, x:DkimSignature under urn:stalwart:jmap) called with the same token on
// a session of its own, never through the client under test.
type liveUpstream struct {
	base  string
	token string
	http  *http.Client
	// apiURL and accountID come from the JMAP session, fetched on first use.
	apiURL    string
	accountID string
}

func newLiveUpstream(t *testing.T, env map[string]string) (*liveUpstream, http.RoundTripper) {
	t.Helper()
	hc, err := integrations.NewHTTPClient(integrations.HTTPOptions{CAFile: os.Getenv("LIVE_CA_FILE"), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &liveUpstream{base: strings.TrimRight(env["LIVE_STALWART_URL"], "/"), token: env["LIVE_STALWART_TOKEN"], http: hc}, hc.Transport
}

// do sends one authenticated request and returns the status and body.
func (u *liveUpstream) do(ctx context.Context, method, target string, body []byte) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+u.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := u.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return res, raw, err
}

// session fetches the JMAP session once. Stalwart answers /.well-known/jmap with a redirect
// (307, empty body) that net/http follows with the Authorization header, the host being the
// same; apiUrl may be relative to where the session was served.
func (u *liveUpstream) session(ctx context.Context) error {
	if u.apiURL != "" {
		return nil
	}
	res, raw, err := u.do(ctx, http.MethodGet, u.base+"/.well-known/jmap", nil)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("jmap session: HTTP %d: %s", res.StatusCode, raw)
	}
	var s struct {
		APIURL          string         `json:"apiUrl"`
		PrimaryAccounts map[string]any `json:"primaryAccounts"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("jmap session: %w", err)
	}
	api, err := res.Request.URL.Parse(s.APIURL)
	if err != nil || s.APIURL == "" {
		return fmt.Errorf("jmap session: apiUrl %q: %v", s.APIURL, err)
	}
	u.apiURL = api.String()
	u.accountID, _ = s.PrimaryAccounts["urn:stalwart:jmap"].(string)
	return nil
}

// invocation is one method call: name, arguments, call id.
type invocation struct {
	name string
	args map[string]any
	id   string
}

// call runs the invocations in one request and returns each call's response arguments by call
// id. A method-level error (Stalwart answers them inside HTTP 200) fails the whole call.
func (u *liveUpstream) call(ctx context.Context, calls ...invocation) (map[string]json.RawMessage, error) {
	if err := u.session(ctx); err != nil {
		return nil, err
	}
	mc := make([][]any, len(calls))
	for i, c := range calls {
		if u.accountID != "" {
			c.args["accountId"] = u.accountID
		}
		mc[i] = []any{c.name, c.args, c.id}
	}
	body, err := json.Marshal(map[string]any{"using": []string{"urn:ietf:params:jmap:core", "urn:stalwart:jmap"}, "methodCalls": mc})
	if err != nil {
		return nil, err
	}
	res, raw, err := u.do(ctx, http.MethodPost, u.apiURL, body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jmap: HTTP %d: %s", res.StatusCode, raw)
	}
	var env struct {
		MethodResponses [][]json.RawMessage `json:"methodResponses"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("jmap: %w", err)
	}
	out := map[string]json.RawMessage{}
	for _, r := range env.MethodResponses {
		var name, id string
		if len(r) != 3 || json.Unmarshal(r[0], &name) != nil || json.Unmarshal(r[2], &id) != nil {
			return nil, fmt.Errorf("jmap: malformed response %s", raw)
		}
		if name == "error" {
			return nil, fmt.Errorf("jmap: call %s: %s", id, r[1])
		}
		out[id] = r[1]
	}
	return out, nil
}

func ref(callID, method, path string) map[string]any {
	return map[string]any{"resultOf": callID, "name": method, "path": path}
}

// setOutcome is the part of a /set response the helpers check.
type setOutcome struct {
	Created      map[string]struct{ ID string } `json:"created"`
	NotCreated   map[string]setError            `json:"notCreated"`
	NotUpdated   map[string]setError            `json:"notUpdated"`
	NotDestroyed map[string]setError            `json:"notDestroyed"`
}

type setError struct {
	Type        string `json:"type"`
	Description string `json:"description"`
	// LinkedObjects names what keeps an object from being destroyed (objectIsLinked).
	LinkedObjects json.RawMessage `json:"linkedObjects"`
}

func (e setError) Error() string {
	msg := e.Type
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if len(e.LinkedObjects) > 0 {
		msg += " (linked to " + string(e.LinkedObjects) + ")"
	}
	return msg
}

// set decodes the /set response of call id and fails on anything not created, updated or
// destroyed; a destroy of something already gone is success.
func set(res map[string]json.RawMessage, id string) (setOutcome, error) {
	var s setOutcome
	if err := json.Unmarshal(res[id], &s); err != nil {
		return s, fmt.Errorf("call %s: %w", id, err)
	}
	for _, m := range []map[string]setError{s.NotCreated, s.NotUpdated} {
		for k, e := range m {
			return s, fmt.Errorf("call %s, %s: %w", id, k, e)
		}
	}
	for k, e := range s.NotDestroyed {
		if e.Type != "notFound" {
			return s, fmt.Errorf("call %s, %s: %w", id, k, e)
		}
	}
	return s, nil
}

// errPending marks a /set refusal that Stalwart's background work resolves by itself: an
// account's destruction finishes after the call, and until then the account still holds its
// name and keeps its domain linked.
var errPending = errors.New("pending")

// pendingBudget bounds how long such a refusal is waited out: background destruction takes
// moments, so a refusal that lasts longer is real and is reported with its own text.
const pendingBudget = 15 * time.Second

// eventually retries try while it fails with errPending, for at most pendingBudget.
func eventually(ctx context.Context, try func() error) error {
	budget := time.NewTimer(pendingBudget)
	defer budget.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := try()
		if !errors.Is(err, errPending) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-budget.C:
			return fmt.Errorf("%w (still refused after %s)", err, pendingBudget)
		case <-tick.C:
		}
	}
}

type liveDomain struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

func (d liveDomain) description() string {
	if d.Description == nil {
		return ""
	}
	return *d.Description
}

var domainProperties = []string{"id", "name", "description"}

// domain reads one domain; false when it does not exist.
func (u *liveUpstream) domain(ctx context.Context, id string) (liveDomain, bool, error) {
	res, err := u.call(ctx, invocation{"x:Domain/get", map[string]any{"ids": []string{id}, "properties": domainProperties}, "g"})
	if err != nil {
		return liveDomain{}, false, err
	}
	var g struct {
		List []liveDomain `json:"list"`
	}
	if err := json.Unmarshal(res["g"], &g); err != nil || len(g.List) == 0 {
		return liveDomain{}, false, err
	}
	return g.List[0], true, nil
}

// domains lists every domain, a page at a time (x:Domain/query with the /get of its ids in the
// same request). A test server holds few; filtering here instead of with the query's name
// filter, a text match, keeps the sweep from depending on how Stalwart tokenises names.
func (u *liveUpstream) domains(ctx context.Context) ([]liveDomain, error) {
	var out []liveDomain
	for pos := 0; ; {
		res, err := u.call(ctx,
			invocation{"x:Domain/query", map[string]any{"position": pos, "calculateTotal": true}, "q"},
			invocation{"x:Domain/get", map[string]any{"#ids": ref("q", "x:Domain/query", "/ids"), "properties": domainProperties}, "g"})
		if err != nil {
			return nil, err
		}
		var q struct {
			IDs   []string `json:"ids"`
			Total *int     `json:"total"`
		}
		var g struct {
			List []liveDomain `json:"list"`
		}
		if err := json.Unmarshal(res["q"], &q); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(res["g"], &g); err != nil {
			return nil, err
		}
		out = append(out, g.List...)
		pos += len(q.IDs)
		if len(q.IDs) == 0 || (q.Total != nil && pos >= *q.Total) {
			return out, nil
		}
	}
}

type liveAccount struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	DomainID    string  `json:"domainId"`
	Description *string `json:"description"`
}

// team reads team@ on the domain with domainID; false when there is none. The name filter
// matches local parts textually, so the name is compared here.
func (u *liveUpstream) team(ctx context.Context, domainID string) (liveAccount, bool, error) {
	res, err := u.call(ctx,
		invocation{"x:Account/query", map[string]any{"filter": map[string]any{"name": "team", "domainId": domainID}}, "q"},
		invocation{"x:Account/get", map[string]any{"#ids": ref("q", "x:Account/query", "/ids"),
			"properties": []string{"id", "name", "domainId", "description"}}, "g"})
	if err != nil {
		return liveAccount{}, false, err
	}
	var g struct {
		List []liveAccount `json:"list"`
	}
	if err := json.Unmarshal(res["g"], &g); err != nil {
		return liveAccount{}, false, err
	}
	for _, a := range g.List {
		if a.Name == "team" && a.DomainID == domainID {
			return a, true, nil
		}
	}
	return liveAccount{}, false, nil
}

// update applies one PatchObject with method (x:Domain/set, x:Account/set).
func (u *liveUpstream) update(ctx context.Context, method, id string, patch map[string]any) error {
	res, err := u.call(ctx, invocation{method, map[string]any{"update": map[string]any{id: patch}}, "u"})
	if err != nil {
		return err
	}
	_, err = set(res, "u")
	return err
}

// destroyAccount destroys an account; gone is success.
func (u *liveUpstream) destroyAccount(ctx context.Context, id string) error {
	res, err := u.call(ctx, invocation{"x:Account/set", map[string]any{"destroy": []string{id}}, "a"})
	if err != nil {
		return err
	}
	_, err = set(res, "a")
	return err
}

// destroyDomain destroys a domain with everything that keeps it linked, in one request: its
// accounts, its DKIM signatures, the domain. While an account's destruction is still running
// the domain stays linked (objectIsLinked), so the request is repeated until it goes through.
// A domain already gone is success, checked first: the documents do not say how a query
// filtered on a domainId that names nothing answers.
func (u *liveUpstream) destroyDomain(ctx context.Context, id string) error {
	if _, found, err := u.domain(ctx, id); err != nil || !found {
		return err
	}
	return eventually(ctx, func() error {
		byDomain := map[string]any{"domainId": id}
		res, err := u.call(ctx,
			invocation{"x:Account/query", map[string]any{"filter": byDomain}, "aq"},
			invocation{"x:Account/set", map[string]any{"#destroy": ref("aq", "x:Account/query", "/ids")}, "as"},
			invocation{"x:DkimSignature/query", map[string]any{"filter": byDomain}, "kq"},
			invocation{"x:DkimSignature/set", map[string]any{"#destroy": ref("kq", "x:DkimSignature/query", "/ids")}, "ks"},
			invocation{"x:Domain/set", map[string]any{"destroy": []string{id}}, "d"})
		if err != nil {
			return err
		}
		for _, c := range []string{"as", "ks"} {
			if _, err := set(res, c); err != nil {
				return err
			}
		}
		_, err = set(res, "d")
		var se setError
		if errors.As(err, &se) && se.Type == "objectIsLinked" {
			return fmt.Errorf("%w: %v", errPending, err)
		}
		return err
	})
}

func (u *liveUpstream) Tampers() []acceptance.Tamper { return stalwartTampers }

// Tamper changes the tenant's objects with x:Domain/set and x:Account/set, as an administrator
// would over JMAP or in the web UI (which uses the same API).
func (u *liveUpstream) Tamper(ctx context.Context, d integrations.Desired, name string) error {
	id := d.ExternalID
	switch name {
	case tamperDomainDeleted:
		return u.destroyDomain(ctx, id)
	case tamperMarker:
		return u.update(ctx, "x:Domain/set", id, map[string]any{"description": byHand})
	case tamperDisabled:
		return u.update(ctx, "x:Domain/set", id, map[string]any{"isEnabled": false})
	}
	team, found, err := u.team(ctx, id)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s: no team@ on domain %s", name, id)
	}
	switch name {
	case tamperTeamDeleted:
		return u.destroyAccount(ctx, team.ID)
	case tamperTeamMarker:
		return u.update(ctx, "x:Account/set", team.ID, map[string]any{"description": byHand})
	case tamperQuota:
		return u.update(ctx, "x:Account/set", team.ID, map[string]any{"quotas/maxDiskQuota": tamperBytes})
	}
	return fmt.Errorf("unknown tamper %q", name)
}

func (u *liveUpstream) CountOwned(ctx context.Context, d integrations.Desired) (int, error) {
	doms, err := u.domains(ctx)
	n := 0
	for _, dom := range doms {
		if integrations.OwnerOfText(dom.description(), d.TenantID) == integrations.Ours {
			n++
		}
	}
	return n, err
}

func (u *liveUpstream) Exists(ctx context.Context, id string) (bool, error) {
	_, found, err := u.domain(ctx, id)
	return found, err
}

func (u *liveUpstream) CreateForeign(ctx context.Context, name, tenantID string) (string, error) {
	return u.CreateDomain(ctx, name, integrations.Marker(tenantID))
}

// CreateDomain creates a domain with the properties domain.md requires, everything managed by
// hand (no DKIM keys generated, nothing published).
func (u *liveUpstream) CreateDomain(ctx context.Context, name, description string) (string, error) {
	props := map[string]any{
		"name":                  name,
		"aliases":               map[string]any{},
		"certificateManagement": map[string]any{"@type": "Manual"},
		"dkimManagement":        map[string]any{"@type": "Manual"},
		"dnsManagement":         map[string]any{"@type": "Manual"},
		"subAddressing":         map[string]any{"@type": "Enabled"},
	}
	if description != "" {
		props["description"] = description
	}
	res, err := u.call(ctx, invocation{"x:Domain/set", map[string]any{"create": map[string]any{"d": props}}, "c"})
	if err != nil {
		return "", err
	}
	s, err := set(res, "c")
	return s.Created["d"].ID, err
}

func (u *liveUpstream) Description(ctx context.Context, id string) (string, error) {
	dom, found, err := u.domain(ctx, id)
	if err == nil && !found {
		err = fmt.Errorf("no domain %s", id)
	}
	return dom.description(), err
}

// ReplaceTeam destroys team@ and creates another tenant's Group account of that name. The
// name is free only once the destruction finished, so a primaryKeyViolation is waited out.
func (u *liveUpstream) ReplaceTeam(ctx context.Context, id, tenantID string) error {
	team, found, err := u.team(ctx, id)
	if err != nil {
		return err
	}
	if found {
		if err := u.destroyAccount(ctx, team.ID); err != nil {
			return err
		}
	}
	return eventually(ctx, func() error {
		res, err := u.call(ctx, invocation{"x:Account/set", map[string]any{"create": map[string]any{"t": map[string]any{
			"@type": "Group", "name": "team", "domainId": id, "description": integrations.Marker(tenantID),
			"roles": map[string]any{"@type": "Default"}, "permissions": map[string]any{"@type": "Inherit"},
			"quotas": map[string]any{}, "aliases": map[string]any{},
		}}}, "c"})
		if err != nil {
			return err
		}
		_, err = set(res, "c")
		var se setError
		if errors.As(err, &se) && se.Type == "primaryKeyViolation" {
			return fmt.Errorf("%w: %v", errPending, err)
		}
		return err
	})
}

func (u *liveUpstream) TeamDescription(ctx context.Context, id string) (string, bool, error) {
	team, found, err := u.team(ctx, id)
	if team.Description == nil {
		return "", found, err
	}
	return *team.Description, found, err
}

// Remove destroys a domain with its accounts and DKIM signatures; gone is success.
func (u *liveUpstream) Remove(ctx context.Context, id string) error { return u.destroyDomain(ctx, id) }

// Sweep destroys the domains an earlier run left: only names starting with prefix.
func (u *liveUpstream) Sweep(ctx context.Context, prefix string) error {
	doms, err := u.domains(ctx)
	if err != nil {
		return err
	}
	for _, dom := range doms {
		if strings.HasPrefix(dom.Name, prefix) {
			if err := u.destroyDomain(ctx, dom.ID); err != nil {
				return fmt.Errorf("domain %s: %w", dom.Name, err)
			}
		}
	}
	return nil
}

// TestLiveSweep: the live half's sweep, run against the simulator over JMAP, destroys every
// domain whose name starts with the prefix together with what keeps it linked (the team account
// and the DKIM signatures Stalwart generated), and nothing else.
func TestLiveSweep(t *testing.T) {
	sim := stalwartsim.New(stalwartsim.Options{Token: accToken})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	u := &liveUpstream{base: srv.URL, token: accToken, http: srv.Client()}
	c, err := stalwart.New(stalwart.Config{BaseURL: srv.URL, Token: accToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, dom := range []string{domainOf("left"), "keep.example.com"} {
		id, _ := acceptance.NewTenant()
		d := integrations.Desired{TenantID: id, Slug: "s", MailDomain: dom, MailQuotaBytes: accQuota}
		if _, err := integrationstest.Converge(ctx, c, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := u.CreateDomain(ctx, domainOf("by-hand"), ""); err != nil {
		t.Fatal(err)
	}
	if sim.DkimSignatureCount() == 0 {
		t.Fatal("no DKIM signatures were generated; the sweep's unlinking is not exercised")
	}
	if err := u.Sweep(ctx, accPrefix); err != nil {
		t.Fatal(err)
	}
	var domains []string
	for _, dom := range sim.Domains() {
		domains = append(domains, dom.Name)
	}
	if diff := cmp.Diff([]string{"keep.example.com"}, domains); diff != "" {
		t.Errorf("domains after the sweep (-want +got):\n%s", diff)
	}
	keep := sim.Domains()[0].ID
	for _, a := range sim.Accounts() {
		if a.DomainID != keep {
			t.Errorf("account %s@%s outlived its domain", a.Name, a.DomainID)
		}
	}
	if n := sim.AccountCount(); n != 1 {
		t.Errorf("%d accounts, want keep.example.com's team@", n)
	}
}
