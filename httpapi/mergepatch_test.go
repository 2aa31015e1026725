package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMergePatchRFC7396 runs every example of RFC 7396 Appendix A, plus the cases a spec patch
// relies on.
func TestMergePatchRFC7396(t *testing.T) {
	cases := map[string]struct {
		reason        string
		target, patch string
		want          string
	}{
		"A1":  {"replace a member", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		"A2":  {"add a member", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		"A3":  {"null removes", `{"a":"b"}`, `{"a":null}`, `{}`},
		"A4":  {"null removes one of two", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		"A5":  {"arrays replace", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		"A6":  {"value replaced by array", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		"A7":  {"nested merge with removal", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		"A8":  {"array of objects replaces", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		"A9":  {"arrays are values", `["a","b"]`, `["c","d"]`, `["c","d"]`},
		"A10": {"object patch on array target", `{"a":"b"}`, `["c"]`, `["c"]`},
		"A11": {"null patch replaces", `{"a":"foo"}`, `null`, `null`},
		"A12": {"string patch replaces", `{"a":"foo"}`, `"bar"`, `"bar"`},
		"A13": {"null member kept out, others kept", `{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		"A14": {"non-object target becomes object", `[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		"A15": {"new nested object drops nulls", `{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		"mail removed": {
			"a spec patch removing mail", `{"name":"A","mail":{"domain":"a.example"}}`, `{"mail":null}`, `{"name":"A"}`,
		},
		"quota added to mail": {
			"nested member added", `{"mail":{"domain":"a.example"}}`, `{"mail":{"quotaBytes":5}}`, `{"mail":{"domain":"a.example","quotaBytes":5}}`,
		},
		"empty patch": {"changes nothing", `{"a":{"b":1}}`, `{}`, `{"a":{"b":1}}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var target, patch, want any
			for _, x := range []struct {
				src string
				dst *any
			}{{tc.target, &target}, {tc.patch, &patch}, {tc.want, &want}} {
				if err := json.Unmarshal([]byte(x.src), x.dst); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := json.Marshal(target)
			got := mergePatch(target, patch)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: (-want +got):\n%s", tc.reason, diff)
			}
			after, _ := json.Marshal(target)
			if string(before) != string(after) {
				t.Errorf("%s: the target was modified: %s → %s", tc.reason, before, after)
			}
		})
	}
}
