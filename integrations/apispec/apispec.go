// Package apispec checks recorded upstream requests against the upstreams' own OpenAPI
// documents, so a client cannot drift into sending a parameter or body property the real API
// does not declare. Test-only helper. The documents are the pinned ones of
// internal/upstreamspecs, found through Path (docs/ARCHITECTURE.md, "Upstream API documents").
package apispec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/dezky/platform-api/integrations/sim/faults"
	"github.com/dezky/platform-api/internal/upstreamspecs"
)

// Path returns the path of the pinned upstream document name (e.g. "authentik-schema.yml") for
// a test: from $UPSTREAM_SPECS, else ../shared/upstreams beside the module root. The test is
// skipped, with the reason, when the document is absent from the default directory (a clone
// without ../shared); it fails when UPSTREAM_SPECS names a directory without it, when the
// document is not pinned in internal/upstreamspecs/specs.txt, or when its sha256 is not the
// pinned one. Every test that reads an upstream document goes through here.
func Path(t testing.TB, name string) string {
	t.Helper()
	p, err := upstreamspecs.Locate(name)
	var missing *upstreamspecs.MissingError
	switch {
	case err == nil:
		return p
	case errors.As(err, &missing) && !missing.Explicit:
		t.Skip(err.Error())
	default:
		t.Fatal(err)
	}
	return ""
}

// Validator validates requests against one document.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// Load parses the document at path and mounts it under serverURL (e.g.
// "http://sim/api/v3"), replacing the document's own servers so recorded paths match.
func Load(path, serverURL string) (*Validator, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	doc.Servers = openapi3.Servers{{URL: serverURL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("router for %s: %w", path, err)
	}
	return &Validator{doc: doc, router: router}, nil
}

// Validate checks one recorded request: the operation exists (method and path), every query
// parameter is declared, and the body matches the declared schema. host is the scheme and host
// of serverURL. Security is not checked here (the simulators enforce auth themselves).
func (v *Validator) Validate(host string, r faults.Request) error {
	u, err := url.Parse(strings.TrimRight(host, "/") + r.Path)
	if err != nil {
		return err
	}
	u.RawQuery = r.Query
	req, err := http.NewRequest(r.Method, u.String(), bytes.NewReader(r.Body))
	if err != nil {
		return err
	}
	req.Header = r.Header.Clone()
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s: no such operation in the API document: %w", r.Method, r.Path, err)
	}
	declared := map[string]bool{}
	for _, p := range route.Operation.Parameters {
		if p.Value != nil && p.Value.In == "query" {
			declared[p.Value.Name] = true
		}
	}
	for _, p := range route.PathItem.Parameters {
		if p.Value != nil && p.Value.In == "query" {
			declared[p.Value.Name] = true
		}
	}
	for name := range u.Query() {
		if !declared[name] {
			return fmt.Errorf("%s %s: query parameter %q is not declared", r.Method, r.Path, name)
		}
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			MultiError:         false,
		},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	if len(r.Body) == 0 {
		return nil
	}
	rb := route.Operation.RequestBody
	if rb == nil || rb.Value == nil {
		return fmt.Errorf("%s %s: sends a body the operation does not declare", r.Method, r.Path)
	}
	mt := rb.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return nil
	}
	var body any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return fmt.Errorf("%s %s: body is not JSON: %w", r.Method, r.Path, err)
	}
	if err := undeclared(mt.Schema.Value, body, ""); err != nil {
		return fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	return nil
}

// undeclared reports the first object property in v that schema s does not declare. OpenAPI
// schemas allow extra properties by default; the upstream servers (Django REST framework,
// oCIS's strict JSON decoder) do not, so we are stricter than the document's letter.
func undeclared(s *openapi3.Schema, v any, at string) error {
	switch val := v.(type) {
	case map[string]any:
		props := map[string]*openapi3.Schema{}
		collectProps(s, props)
		if len(props) == 0 {
			return nil // a free-form object (e.g. attributes)
		}
		for k, child := range val {
			ps, ok := props[k]
			if !ok {
				return fmt.Errorf("body property %q is not declared", at+"/"+k)
			}
			if err := undeclared(ps, child, at+"/"+k); err != nil {
				return err
			}
		}
	case []any:
		if s.Items != nil && s.Items.Value != nil {
			for i, child := range val {
				if err := undeclared(s.Items.Value, child, fmt.Sprintf("%s/%d", at, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func collectProps(s *openapi3.Schema, into map[string]*openapi3.Schema) {
	for k, p := range s.Properties {
		if p != nil && p.Value != nil {
			into[k] = p.Value
		}
	}
	for _, sub := range append(append(s.AllOf, s.OneOf...), s.AnyOf...) {
		if sub != nil && sub.Value != nil {
			collectProps(sub.Value, into)
		}
	}
}
