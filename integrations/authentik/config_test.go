package authentik

import (
	"testing"
)

func TestAPIBase(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    string
		wantErr bool
	}{
		"bare host":         {in: "https://ak.example.com", want: "https://ak.example.com/api/v3"},
		"bare host slash":   {in: "https://ak.example.com/", want: "https://ak.example.com/api/v3"},
		"api base":          {in: "https://ak.example.com/api/v3", want: "https://ak.example.com/api/v3"},
		"api base slash":    {in: "https://ak.example.com/api/v3/", want: "https://ak.example.com/api/v3"},
		"sub path":          {in: "http://proxy:9000/authentik", want: "http://proxy:9000/authentik/api/v3"},
		"sub path with api": {in: "http://proxy:9000/authentik/api/v3", want: "http://proxy:9000/authentik/api/v3"},
		"spaces":            {in: "  https://ak.example.com  ", want: "https://ak.example.com/api/v3"},
		"query dropped":     {in: "https://ak.example.com/api/v3?x=1", want: "https://ak.example.com/api/v3"},
		"empty":             {in: "", wantErr: true},
		"no scheme":         {in: "ak.example.com", wantErr: true},
		"other scheme":      {in: "ftp://ak.example.com", wantErr: true},
		"userinfo":          {in: "https://u:p@ak.example.com", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := apiBase(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("apiBase(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Config{BaseURL: "https://ak.example.com", Token: " "}); err == nil {
		t.Error("New accepted an empty token")
	}
	if _, err := New(Config{BaseURL: "nope", Token: "t"}); err == nil {
		t.Error("New accepted a malformed URL")
	}
	c, err := New(Config{BaseURL: "https://ak.example.com", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "authentik" {
		t.Errorf("Name = %q", c.Name())
	}
	if got := c.GroupName("acme"); got != "tenant-acme" {
		t.Errorf("default GroupName = %q, want tenant-acme", got)
	}
}
