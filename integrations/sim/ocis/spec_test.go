package ocissim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/dezky/platform-api/integrations/apispec"
)

// TestResponsesFollowTheAPIDocument checks the simulator's answers, errors included, against
// the response schemas of the libre-graph document.
func TestResponsesFollowTheAPIDocument(t *testing.T) {
	path, ok := apispec.Find("libre-graph-api-v1.0.yaml")
	if !ok {
		t.Skip("shared/upstreams/libre-graph-api-v1.0.yaml not found beside the repository")
	}
	s, srv := newTestServer(t, Options{})
	tok := issueToken(t, srv)
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: srv.URL + "/graph"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	id := createDrive(t, srv, tok, `{"name":"S","description":"d","quota":{"total":5}}`)
	g, _ := s.AddGroup("tenant-acme")
	foreign := s.CreateDriveOutOfBand("F", "")
	calls := []struct{ method, path, body string }{
		{"GET", "/graph/v1.0/drives?$filter=" + q("driveType eq 'project'"), ""},
		{"GET", "/graph/v1.0/drives?$filter=" + q("name eq 'x'"), ""},
		{"GET", "/graph/v1.0/drives?$filter=" + q("driveType eq 'project' and id eq 'x'"), ""},
		{"GET", "/graph/v1.0/drives?$filter=" + q("id eq 'x'"), ""},
		{"GET", "/graph/v1beta1/drives/" + foreign.ID + "/root/permissions", ""},
		{"POST", "/graph/v1beta1/drives/" + foreign.ID + "/root/invite", inviteBody(groupRecipient(g.ID), RoleManager)},
		{"GET", "/graph/v1.0/drives/" + id, ""},
		{"GET", "/graph/v1.0/drives/missing", ""},
		{"POST", "/graph/v1.0/drives", `{"name":"T","driveType":"project","quota":{"total":1}}`},
		{"POST", "/graph/v1.0/drives", `{"name":"a/b"}`},
		{"PATCH", "/graph/v1.0/drives/" + id, `{"quota":{"total":9}}`},
		{"GET", "/graph/v1.0/groups?$search=" + q(`"tenant"`), ""},
		{"POST", "/graph/v1.0/groups", `{"displayName":"tenant-x"}`},
		{"POST", "/graph/v1.0/groups", `{"displayName":"tenant-x"}`},
		{"POST", "/graph/v1beta1/drives/" + id + "/root/invite", inviteBody(groupRecipient(g.ID), RoleManager)},
		{"POST", "/graph/v1beta1/drives/" + id + "/root/invite", inviteBody(groupRecipient(g.ID), RoleManager)},
		{"GET", "/graph/v1beta1/drives/" + id + "/root/permissions", ""},
		{"PATCH", "/graph/v1beta1/drives/" + id + "/root/permissions/g:" + g.ID, `{"roles":["` + RoleSpaceEditor + `"]}`},
		{"DELETE", "/graph/v1beta1/drives/" + id + "/root/permissions/g:" + g.ID, ""},
		{"DELETE", "/graph/v1.0/drives/" + id, ""},
		{"DELETE", "/graph/v1.0/drives/" + id, ""},
		{"DELETE", "/graph/v1.0/groups/" + g.ID, ""},
	}
	for _, c := range calls {
		r := do(t, srv, tok, c.method, c.path, c.body)
		var rd io.Reader
		if c.body != "" {
			rd = strings.NewReader(c.body)
		}
		req, _ := http.NewRequest(c.method, srv.URL+c.path, rd)
		req.Header.Set("Content-Type", "application/json")
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: %v", c.method, c.path, err)
			continue
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 r.status,
			Header:                 r.header,
			Body:                   io.NopCloser(bytes.NewReader(r.body)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: false},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s -> %d: %v\n%s", c.method, c.path, r.status, err, r.body)
		}
	}
}
