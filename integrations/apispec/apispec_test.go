package apispec

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dezky/platform-api/integrations/sim/faults"
)

func TestValidateAgainstAuthentikDocument(t *testing.T) {
	p := Path(t, "authentik-schema.yml")
	v, err := Load(p, "http://sim/api/v3")
	if err != nil {
		t.Fatal(err)
	}
	jsonHdr := http.Header{"Content-Type": {"application/json"}}
	cases := map[string]struct {
		req     faults.Request
		wantErr string
	}{
		"declared query":      {req: faults.Request{Method: "GET", Path: "/api/v3/core/groups/", Query: "name=x&include_users=false"}},
		"undeclared query":    {req: faults.Request{Method: "GET", Path: "/api/v3/core/groups/", Query: "bogus=1"}, wantErr: `query parameter "bogus"`},
		"unknown path":        {req: faults.Request{Method: "GET", Path: "/api/v3/core/nope/"}, wantErr: "no such operation"},
		"declared body":       {req: faults.Request{Method: "POST", Path: "/api/v3/core/groups/", Header: jsonHdr, Body: []byte(`{"name":"a","attributes":{"k":"v"}}`)}},
		"undeclared property": {req: faults.Request{Method: "POST", Path: "/api/v3/core/groups/", Header: jsonHdr, Body: []byte(`{"name":"a","bogus":1}`)}, wantErr: `"/bogus"`},
		"schema violation":    {req: faults.Request{Method: "POST", Path: "/api/v3/core/groups/", Header: jsonHdr, Body: []byte(`{"name":""}`)}, wantErr: "name"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.req.Header == nil {
				tc.req.Header = http.Header{}
			}
			err := v.Validate("http://sim", tc.req)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}
