package ocissim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/dezky/platform-api/integrations/sim/faults"
)

const (
	testClientID     = "dezky-platform"
	testClientSecret = "sim-secret-42"
)

func newTestServer(t *testing.T, o Options) (*Server, *httptest.Server) {
	t.Helper()
	if o.ClientID == "" {
		o.ClientID, o.ClientSecret = testClientID, testClientSecret
	}
	s := New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

// issueToken runs a client_credentials grant with Basic client authentication.
func issueToken(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, TokenURL(srv.URL), strings.NewReader("grant_type=client_credentials&scope=openid+profile"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(testClientID), url.QueryEscape(testClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token: status %d, err %v", resp.StatusCode, err)
	}
	return tr.AccessToken
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// errorCode returns error.code of a libre-graph error body, failing when the shape is wrong.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e odataError
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if e.Error.Code == "" || e.Error.Message == "" || e.Error.Innererror["date"] == "" || e.Error.Innererror["request-id"] == "" {
		t.Fatalf("error body %s lacks code, message or innererror date/request-id", r.body)
	}
	return e.Error.Code
}

func do(t *testing.T, srv *httptest.Server, tok, method, path, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// createDrive creates a project space over the API and returns its id.
func createDrive(t *testing.T, srv *httptest.Server, tok, body string) string {
	t.Helper()
	r := do(t, srv, tok, http.MethodPost, "/graph/v1.0/drives", body)
	if r.status != http.StatusCreated {
		t.Fatalf("create drive: %d %s", r.status, r.body)
	}
	return r.json(t)["id"].(string)
}

func q(v string) string { return url.QueryEscape(v) }

func faultsConfig(status int) faults.Config {
	return faults.Config{ErrorRate: 1, ErrorStatus: status}
}

// storageIDForTest is the storage id every drive id of s starts with.
func (s *Server) storageIDForTest() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.storageID
}
