package stalwartsim

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations/apispec"
)

// TestEmbeddedSchemaMatchesUpstream recomputes the embedded extract from the upstream schema file
// (everything reachable from x:Domain and x:Account, labels and descriptions dropped) so the
// simulator cannot drift from what Stalwart declares.
func TestEmbeddedSchemaMatchesUpstream(t *testing.T) {
	path := apispec.Path(t, "stalwart-v0.16-schema.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		Schemas map[string]map[string]any `json:"schemas"`
		Fields  map[string]map[string]any `json:"fields"`
		Enums   map[string][]struct {
			Name string `json:"name"`
		} `json:"enums"`
	}
	if err := json.Unmarshal(data, &up); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"schemas": map[string]any{}, "fields": map[string]any{}, "enums": map[string]any{}}
	var visitSchema, visitFields func(string)
	var walkType func(map[string]any)
	walkType = func(ty map[string]any) {
		if ty["type"] == "objectId" {
			return // a reference holds an id string, not the referenced object
		}
		if n, ok := ty["objectName"].(string); ok {
			visitSchema(n)
		}
		if n, ok := ty["enumName"].(string); ok {
			names := []any{}
			for _, e := range up.Enums[n] {
				names = append(names, e.Name)
			}
			want["enums"].(map[string]any)[n] = names
		}
		for _, k := range []string{"class", "keyClass", "valueClass"} {
			if sub, ok := ty[k].(map[string]any); ok {
				walkType(sub)
			}
		}
	}
	visitFields = func(name string) {
		fields := want["fields"].(map[string]any)
		if _, done := fields[name]; done {
			return
		}
		fs := up.Fields[name]
		props := map[string]any{}
		out := map[string]any{"properties": props}
		if d, ok := fs["defaults"]; ok {
			out["defaults"] = d
		}
		fields[name] = out
		for p, spec := range fs["properties"].(map[string]any) {
			s := map[string]any{}
			for k, v := range spec.(map[string]any) {
				if k != "description" {
					s[k] = v
				}
			}
			props[p] = s
			walkType(s["type"].(map[string]any))
		}
	}
	visitSchema = func(name string) {
		schemas := want["schemas"].(map[string]any)
		if _, done := schemas[name]; done {
			return
		}
		sc := map[string]any{}
		for k, v := range up.Schemas[name] {
			if k != "description" {
				sc[k] = v
			}
		}
		schemas[name] = sc
		if sc["type"] == "single" {
			visitFields(sc["schemaName"].(string))
			return
		}
		vs := []any{}
		for _, v := range sc["variants"].([]any) {
			vm := map[string]any{}
			for k, x := range v.(map[string]any) {
				if k != "label" {
					vm[k] = x
				}
			}
			vs = append(vs, vm)
			if n, ok := vm["schemaName"].(string); ok {
				visitFields(n)
			}
		}
		sc["variants"] = vs
	}
	visitSchema("x:Domain")
	visitSchema("x:Account")

	var got map[string]any
	if err := json.Unmarshal(schemaJSON, &got); err != nil {
		t.Fatal(err)
	}
	// Round-trip want through JSON so both sides use the same Go types.
	b, _ := json.Marshal(want)
	var wantJSON map[string]any
	_ = json.Unmarshal(b, &wantJSON)
	if diff := cmp.Diff(wantJSON, got); diff != "" {
		t.Errorf("embedded schema.json differs from the upstream schema (-upstream +embedded):\n%s", diff)
	}
}
