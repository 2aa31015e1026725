package stalwartsim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	stalwartsim "github.com/dezky/platform-api/integrations/sim/stalwart"
)

const token = "sim-secret-token"

var using = []string{"urn:ietf:params:jmap:core", "urn:stalwart:jmap"}

func newServer(t *testing.T, opts stalwartsim.Options) (*stalwartsim.Server, *httptest.Server) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	sim := stalwartsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv
}

// post sends a raw body to /jmap/ with the token and returns status, headers and decoded body.
func post(t *testing.T, srv *httptest.Server, auth string, body []byte) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/jmap/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header, decodeBody(t, resp.Body)
}

func decodeBody(t *testing.T, r io.Reader) map[string]any {
	t.Helper()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("body %q: %v", data, err)
	}
	return out
}

// call is one method call for jmap.
type call struct {
	name string
	args map[string]any
	id   string
}

// jmap sends calls in one request and returns the method responses keyed by call id
// (name, args). It fails the test on a non-200 answer.
func jmap(t *testing.T, srv *httptest.Server, calls ...call) map[string][2]any {
	t.Helper()
	mc := make([][]any, len(calls))
	for i, c := range calls {
		mc[i] = []any{c.name, c.args, c.id}
	}
	body, _ := json.Marshal(map[string]any{"using": using, "methodCalls": mc})
	status, _, out := post(t, srv, "Bearer "+token, body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, out)
	}
	res := map[string][2]any{}
	for _, r := range out["methodResponses"].([]any) {
		inv := r.([]any)
		res[inv[2].(string)] = [2]any{inv[0], inv[1]}
	}
	return res
}

// m is shorthand for a JSON object literal.
type m = map[string]any

func domainCreate(name string) m {
	return m{
		"name": name, "aliases": m{},
		"certificateManagement": m{"@type": "Manual"},
		"dkimManagement":        m{"@type": "Manual"},
		"dnsManagement":         m{"@type": "Manual"},
		"subAddressing":         m{"@type": "Enabled"},
	}
}

func groupCreate(name, domainID string) m {
	return m{
		"@type": "Group", "name": name, "domainId": domainID,
		"roles": m{"@type": "Default"}, "permissions": m{"@type": "Inherit"},
		"quotas": m{"maxDiskQuota": 1024}, "aliases": m{},
	}
}

// args returns the arguments of a successful method response, failing on an error response.
func args(t *testing.T, res map[string][2]any, id string) m {
	t.Helper()
	r, ok := res[id]
	if !ok {
		t.Fatalf("no response for %s", id)
	}
	if r[0] == "error" {
		t.Fatalf("call %s failed: %v", id, r[1])
	}
	return r[1].(m)
}

// mustCreate creates one object with typ/set and returns its id.
func mustCreate(t *testing.T, srv *httptest.Server, typ string, obj m) string {
	t.Helper()
	res := jmap(t, srv, call{typ + "/set", m{"create": m{"x": obj}}, "c"})
	created, ok := args(t, res, "c")["created"].(m)
	if !ok {
		t.Fatalf("not created: %v", args(t, res, "c"))
	}
	return created["x"].(m)["id"].(string)
}
