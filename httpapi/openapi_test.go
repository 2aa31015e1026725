package httpapi

import (
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
)

// TestOpenAPIMatchesRoutes: every route the server registers is in the document, and every
// operation of the document is a registered route (method + path, :slug written {slug}).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	param := regexp.MustCompile(`:([A-Za-z0-9_]+)`)
	var registered []string
	for _, r := range e.srv.echo.Routes() {
		registered = append(registered, strings.ToUpper(r.Method)+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(registered)

	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true, "trace": true}
	var documented []string
	for path, item := range doc.Paths {
		for m := range item {
			if methods[m] {
				documented = append(documented, strings.ToUpper(m)+" "+path)
			}
		}
	}
	sort.Strings(documented)
	if diff := cmp.Diff(registered, documented); diff != "" {
		t.Fatalf("routes (-registered +documented):\n%s", diff)
	}
	if len(registered) != 25 {
		t.Errorf("%d routes registered; want 25: the 22 of the first stage, GET /openapi.json, drift-check and events", len(registered))
	}
}

// TestOpenAPIDocumentIsValid loads the document with kin-openapi and validates it (3.1).
func TestOpenAPIDocumentIsValid(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatal("not OpenAPI 3.1")
	}
}
