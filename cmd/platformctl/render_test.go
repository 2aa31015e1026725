package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/internal/platformclient"
)

func TestShortDuration(t *testing.T) {
	cases := map[string]struct {
		d    time.Duration
		want string
	}{
		"clock skew reads zero": {d: -500 * time.Millisecond, want: "0s"},
		"far future is invalid": {d: -time.Minute, want: "<invalid>"},
		"zero":                  {d: 0, want: "0s"},
		"seconds round":         {d: 4600 * time.Millisecond, want: "5s"},
		"last second":           {d: 59 * time.Second, want: "59s"},
		"minutes, whole only":   {d: 3*time.Minute + 59*time.Second, want: "3m"},
		"last minute":           {d: 59*time.Minute + 59*time.Second, want: "59m"},
		"hours":                 {d: 2*time.Hour + 30*time.Minute, want: "2h"},
		"days":                  {d: 4*24*time.Hour + 23*time.Hour, want: "4d"},
		"years":                 {d: 800 * 24 * time.Hour, want: "2y"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := shortDuration(tc.d); got != tc.want {
				t.Errorf("shortDuration(%s) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    int64
		wantErr bool
	}{
		"bytes":           {in: "1073741824", want: 1 << 30},
		"Gi":              {in: "10Gi", want: 10 << 30},
		"GiB":             {in: "10GiB", want: 10 << 30},
		"Ti with a space": {in: "2 Ti", want: 2 << 40},
		"Ki":              {in: "512Ki", want: 512 << 10},
		"decimal unit":    {in: "10GB", wantErr: true},
		"fraction":        {in: "1.5Gi", wantErr: true},
		"zero":            {in: "0", wantErr: true},
		"negative":        {in: "-1Gi", wantErr: true},
		"overflow":        {in: "9000000000Ti", wantErr: true},
		"empty":           {in: "", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseBytes(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseBytes(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestBytesText(t *testing.T) {
	for in, want := range map[int64]string{10 << 30: "10 GiB", 2 << 40: "2 TiB", 1536 << 20: "1536 MiB", 1000: "1000 bytes"} {
		if got := bytesText(in); got != want {
			t.Errorf("bytesText(%d) = %q, want %q", in, got, want)
		}
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// Colour is for terminals only, and does not cost alignment: with the escape codes removed,
// the coloured output is the plain output byte for byte.
func TestColourKeepsAlignment(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	ready := platformclient.Condition{Type: "Ready", Status: "False", Reason: "StepFailed", Message: "ocis failed", LastTransitionTime: at}
	tenants := []platformclient.Tenant{
		{Metadata: platformclient.Metadata{Slug: "a-very-long-tenant-slug", CreatedAt: at}, Spec: platformclient.Spec{Plan: "starter", ManagementPolicy: "Full"},
			Status: platformclient.Status{Phase: "Degraded", Conditions: []platformclient.Condition{ready}, Steps: map[string]platformclient.StepStatus{
				"authentik": {State: "ok", LastTransitionTime: &at},
				"ocis":      {State: "error", Message: "files unreachable; retrying", LastTransitionTime: &at, Attempts: 3},
			}}},
		{Metadata: platformclient.Metadata{Slug: "b", CreatedAt: at}, Spec: platformclient.Spec{Plan: "business", ManagementPolicy: "ObserveOnly"},
			Status: platformclient.Status{Phase: "Active"}},
	}
	now := at.Add(3 * time.Minute)
	render := func(color bool) (table, describe string) {
		r := renderer{now: now, color: color}
		var tb, db strings.Builder
		if err := r.tenantTable(&tb, tenants, true); err != nil {
			t.Fatal(err)
		}
		if err := r.describeTenant(&db, &tenants[0], nil, nil); err != nil {
			t.Fatal(err)
		}
		return tb.String(), db.String()
	}
	plainTable, plainDescribe := render(false)
	colourTable, colourDescribe := render(true)
	if ansi.MatchString(plainTable + plainDescribe) {
		t.Errorf("colour off, but escape codes in:\n%q", plainTable+plainDescribe)
	}
	for name, got := range map[string]string{"table": colourTable, "describe": colourDescribe} {
		if !strings.Contains(got, ansiRed+"Degraded"+ansiReset) {
			t.Errorf("%s: colour on, but Degraded is not red:\n%q", name, got)
		}
	}
	if diff := cmp.Diff(plainTable, ansi.ReplaceAllString(colourTable, "")); diff != "" {
		t.Errorf("colour moved the table's columns (-plain +coloured):\n%s", diff)
	}
	if diff := cmp.Diff(plainDescribe, ansi.ReplaceAllString(colourDescribe, "")); diff != "" {
		t.Errorf("colour moved describe's columns (-plain +coloured):\n%s", diff)
	}
	if !strings.Contains(plainDescribe, "  ocis        error   3m    3          files unreachable; retrying   <none>\n") {
		t.Errorf("describe's step row:\n%s", plainDescribe)
	}
}

// The whole command on a terminal colours and shows progress on stderr; NO_COLOR and a pipe
// (every other test) get neither.
func TestTerminalOutput(t *testing.T) {
	g := goldenFixtures(t)
	onTTY := invocation{token: g.token, terminal: true}
	if out := onTTY.mustCtl(t, exitOK, "get", "tenants").stdout; !strings.Contains(out, ansiGreen+"Active"+ansiReset) {
		t.Errorf("on a terminal, Active should be green:\n%q", out)
	}
	noColour := invocation{token: g.token, terminal: true, vars: map[string]string{"NO_COLOR": "1"}}
	if out := noColour.mustCtl(t, exitOK, "get", "tenants").stdout; ansi.MatchString(out) {
		t.Errorf("NO_COLOR set, but escape codes in:\n%q", out)
	}
	// A drift check writes an annotation: a tenant of this test's own, not a golden one.
	user := userToken(t)
	(invocation{token: user}).mustCtl(t, exitOK, "create", "tenant", "terminal", "--name", "Terminal")
	waitReady(t, user, "terminal")
	if r := (invocation{token: user, terminal: true}).mustCtl(t, exitOK, "diff", "terminal"); !strings.HasPrefix(r.stderr, "Waiting up to 30s") {
		t.Errorf("on a terminal, diff should say it waits; stderr %q", r.stderr)
	}
	if r := (invocation{token: user}).mustCtl(t, exitOK, "diff", "terminal"); r.stderr != "" {
		t.Errorf("in a pipe, no progress: stderr %q", r.stderr)
	}
}
