package ocissim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/dezky/platform-api/integrations"
)

// TestParityWithALiveServer plays one script of raw libre-graph calls against the simulator
// and against a live oCIS (the live acceptance variables, see integrations/ocis), and compares
// what each answered: the status, the error code and message (ids replaced by names), and the
// top-level properties of a success. It is how the simulator is kept honest: a new oCIS
// release that answers differently fails here first.
func TestParityWithALiveServer(t *testing.T) {
	env := map[string]string{}
	for _, k := range []string{"LIVE_OCIS_URL", "LIVE_OCIS_TOKEN_URL", "LIVE_OCIS_CLIENT_ID", "LIVE_OCIS_CLIENT_SECRET", "LIVE_OCIS_ADMIN_CLIENT_ID", "LIVE_OCIS_ADMIN_CLIENT_SECRET"} {
		env[k] = os.Getenv(k)
		if env[k] == "" {
			t.Skipf("needs a live oCIS and a second administrator: %s not set", k)
		}
	}
	hc, err := integrations.NewHTTPClient(integrations.HTTPOptions{CAFile: os.Getenv("LIVE_CA_FILE"), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	token := func(id, secret string) string {
		cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: env["LIVE_OCIS_TOKEN_URL"], AuthStyle: oauth2.AuthStyleInHeader}
		tok, err := cfg.Token(context.WithValue(context.Background(), oauth2.HTTPClient, hc))
		if err != nil {
			t.Fatalf("token for %s: %v", id, err)
		}
		return tok.AccessToken
	}
	live := &parityTarget{base: strings.TrimRight(env["LIVE_OCIS_URL"], "/"), http: hc,
		token: token(env["LIVE_OCIS_CLIENT_ID"], env["LIVE_OCIS_CLIENT_SECRET"])}
	adminTok := token(env["LIVE_OCIS_ADMIN_CLIENT_ID"], env["LIVE_OCIS_ADMIN_CLIENT_SECRET"])
	live.asOtherAdmin = func(name string) string {
		other := &parityTarget{base: live.base, http: hc, token: adminTok}
		return other.call(t, "POST", "/graph/v1.0/drives", `{"name":"`+name+`"}`).json["id"].(string)
	}

	s, srv := newTestServer(t, Options{})
	sim := &parityTarget{base: srv.URL, http: srv.Client(), token: issueToken(t, srv)}
	sim.asOtherAdmin = func(name string) string { return s.CreateDriveOutOfBand(name, "").ID }

	script := parityScript()
	var simOut, liveOut []string
	for _, tg := range []*parityTarget{sim, live} {
		var out []string
		tg.setup(t)
		for _, c := range script {
			r := tg.call(t, c.method, tg.expand(c.path), tg.expand(c.body), c.hdr...)
			out = append(out, c.what+": "+tg.summary(r))
		}
		tg.teardown(t)
		if tg == sim {
			simOut = out
		} else {
			liveOut = out
		}
	}
	for i := range script {
		if testing.Verbose() {
			t.Logf("%2d %s", i, liveOut[i])
		}
		if simOut[i] != liveOut[i] {
			t.Errorf("step %d\n  sim:  %s\n  live: %s", i, simOut[i], liveOut[i])
		}
	}
}

type parityCall struct {
	what, method, path, body string
	hdr                      []string
}

// parityScript uses {D} (a space the service account made), {F} (one another administrator
// made), {G} (a group) and their space ids {d} and {f}.
func parityScript() []parityCall {
	inv := func(rcpt, roles string) string { return `{"recipients":[` + rcpt + `],"roles":[` + roles + `]}` }
	grp := `{"@libre.graph.recipient.type":"group","objectId":"{G}"}`
	mgr := `"` + RoleManager + `"`
	return []parityCall{
		{what: "unknown id filter", method: "GET", path: "/graph/v1.0/drives?$filter=" + url.QueryEscape("id eq 'nope'")},
		{what: "and filter", method: "GET", path: "/graph/v1.0/drives?$filter=" + url.QueryEscape("driveType eq 'project' and id eq 'x'")},
		{what: "ne filter", method: "GET", path: "/graph/v1.0/drives?$filter=" + url.QueryEscape("driveType ne 'project'")},
		{what: "short filter", method: "GET", path: "/graph/v1.0/drives?$filter=" + url.QueryEscape("driveType eq")},
		{what: "bad name", method: "POST", path: "/graph/v1.0/drives", body: `{"name":"a/b"}`},
		{what: "no name", method: "POST", path: "/graph/v1.0/drives", body: `{"description":"x"}`},
		{what: "unknown property", method: "POST", path: "/graph/v1.0/drives", body: `{"name":"x","colour":"red"}`},
		{what: "get drive", method: "GET", path: "/graph/v1.0/drives/{D}"},
		{what: "get missing drive", method: "GET", path: "/graph/v1.0/drives/{D}-missing"},
		{what: "patch missing drive", method: "PATCH", path: "/graph/v1.0/drives/{D}-missing", body: `{"name":"x"}`},
		{what: "patch without body", method: "PATCH", path: "/graph/v1.0/drives/{D}"},
		{what: "purge enabled", method: "DELETE", path: "/graph/v1.0/drives/{D}", hdr: []string{"Purge", "T"}},
		{what: "invite", method: "POST", path: "/graph/v1beta1/drives/{D}/root/invite", body: inv(grp, mgr)},
		{what: "invite again", method: "POST", path: "/graph/v1beta1/drives/{D}/root/invite", body: inv(grp, `"`+RoleSpaceViewer+`"`)},
		{what: "invite unknown group", method: "POST", path: "/graph/v1beta1/drives/{D}/root/invite", body: inv(`{"@libre.graph.recipient.type":"group","objectId":"nope"}`, mgr)},
		{what: "invite two", method: "POST", path: "/graph/v1beta1/drives/{D}/root/invite", body: inv(grp+","+grp, mgr)},
		{what: "invite untyped", method: "POST", path: "/graph/v1beta1/drives/{D}/root/invite", body: inv(`{"objectId":"{G}"}`, mgr)},
		{what: "invite disabled role", method: "POST", path: "/graph/v1beta1/drives/{D}/root/invite", body: inv(grp, `"`+RoleSpaceEditorWithoutVersions+`"`)},
		{what: "invite file role", method: "POST", path: "/graph/v1beta1/drives/{D}/root/invite", body: inv(grp, `"`+RoleViewer+`"`)},
		{what: "permissions", method: "GET", path: "/graph/v1beta1/drives/{D}/root/permissions"},
		{what: "two roles", method: "PATCH", path: "/graph/v1beta1/drives/{D}/root/permissions/g:{G}", body: `{"roles":[` + mgr + `,"` + RoleSpaceViewer + `"]}`},
		{what: "lower role", method: "PATCH", path: "/graph/v1beta1/drives/{D}/root/permissions/g:{G}", body: `{"roles":["` + RoleSpaceViewer + `"]}`},
		{what: "missing permission", method: "PATCH", path: "/graph/v1beta1/drives/{D}/root/permissions/g:nope", body: `{"roles":[` + mgr + `]}`},
		{what: "revoke", method: "DELETE", path: "/graph/v1beta1/drives/{D}/root/permissions/g:{G}"},
		{what: "revoke again", method: "DELETE", path: "/graph/v1beta1/drives/{D}/root/permissions/g:{G}"},
		{what: "not a member: drive", method: "GET", path: "/graph/v1.0/drives/{F}"},
		{what: "not a member: permissions", method: "GET", path: "/graph/v1beta1/drives/{F}/root/permissions"},
		{what: "not a member: invite", method: "POST", path: "/graph/v1beta1/drives/{F}/root/invite", body: inv(grp, mgr)},
		{what: "not a member: role", method: "PATCH", path: "/graph/v1beta1/drives/{F}/root/permissions/g:{G}", body: `{"roles":[` + mgr + `]}`},
		{what: "not a member: revoke", method: "DELETE", path: "/graph/v1beta1/drives/{F}/root/permissions/g:{G}"},
		{what: "not a member: patch drive", method: "PATCH", path: "/graph/v1.0/drives/{F}", body: `{"description":"x"}`},
		{what: "disable", method: "DELETE", path: "/graph/v1.0/drives/{D}"},
		{what: "disabled: permissions", method: "GET", path: "/graph/v1beta1/drives/{D}/root/permissions"},
		{what: "restore without body", method: "PATCH", path: "/graph/v1.0/drives/{D}", hdr: []string{"Restore", "T"}},
		{what: "restore", method: "PATCH", path: "/graph/v1.0/drives/{D}", body: `{}`, hdr: []string{"Restore", "T"}},
		{what: "missing group", method: "GET", path: "/graph/v1.0/groups/{G}-missing"},
		{what: "unquoted search", method: "GET", path: "/graph/v1.0/groups?$search=dezky-parity"},
		{what: "unknown path", method: "GET", path: "/graph/v1.0/nothing"},
		{what: "no token", method: "GET", path: "/graph/v1.0/drives", hdr: []string{"Authorization", ""}},
	}
}

type parityTarget struct {
	base         string
	http         *http.Client
	token        string
	asOtherAdmin func(name string) string
	vars         map[string]string
}

type parityResponse struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (p *parityTarget) call(t *testing.T, method, path, body string, hdr ...string) parityResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := p.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := parityResponse{status: res.StatusCode, header: res.Header, body: b}
	_ = json.Unmarshal(b, &r.json)
	return r
}

func (p *parityTarget) setup(t *testing.T) {
	t.Helper()
	d := p.call(t, "POST", "/graph/v1.0/drives", `{"name":"dezky-parity-space"}`).json["id"].(string)
	f := p.asOtherAdmin("dezky-parity-foreign")
	// A group left by an interrupted run is reused (the name is unique).
	p.call(t, "POST", "/graph/v1.0/groups", `{"displayName":"dezky-parity-group"}`)
	g := p.call(t, "GET", "/graph/v1.0/groups/dezky-parity-group", "").json["id"].(string)
	_, ds, _ := strings.Cut(d, "$")
	_, fs, _ := strings.Cut(f, "$")
	p.vars = map[string]string{"{D}": d, "{F}": f, "{G}": g, "{d}": ds, "{f}": fs}
}

func (p *parityTarget) teardown(t *testing.T) {
	t.Helper()
	for _, id := range []string{p.vars["{D}"], p.vars["{F}"]} {
		p.call(t, "DELETE", "/graph/v1.0/drives/"+id, "")
		p.call(t, "DELETE", "/graph/v1.0/drives/"+id, "", "Purge", "T")
	}
	p.call(t, "DELETE", "/graph/v1.0/groups/"+p.vars["{G}"], "")
}

// expand puts the ids in; longest names first so "{D}" never eats into a longer one.
func (p *parityTarget) expand(s string) string {
	for _, k := range []string{"{D}", "{F}", "{G}", "{d}", "{f}"} {
		s = strings.ReplaceAll(s, k, p.vars[k])
	}
	return s
}

// summary is what must match: status, error code and message with ids named, or the sorted
// top-level properties of a JSON success, or the body of a non-JSON answer.
func (p *parityTarget) summary(r parityResponse) string {
	out := http.StatusText(r.status)
	switch e, ok := r.json["error"].(map[string]any); {
	case ok:
		msg := e["message"].(string)
		for _, k := range []string{"{D}", "{F}", "{G}", "{d}", "{f}"} {
			msg = strings.ReplaceAll(msg, p.vars[k], k)
		}
		return out + " " + e["code"].(string) + " " + msg
	case r.json != nil:
		keys := make([]string, 0, len(r.json))
		for k := range r.json {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return out + " {" + strings.Join(keys, ",") + "}"
	}
	if r.status == http.StatusUnauthorized {
		out += " challenge " + strings.SplitN(r.header.Get("WWW-Authenticate"), " ", 2)[0]
	}
	return out + " " + strings.TrimSpace(string(r.body))
}
