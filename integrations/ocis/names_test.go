package ocis_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/integrations/ocis"
)

func TestSpaceName(t *testing.T) {
	cases := map[string]struct {
		reason string
		name   string
		want   string
	}{
		"plain":            {reason: "an allowed name is kept", name: "Acme Corp", want: "Acme Corp"},
		"forbidden chars":  {reason: `/ \ . : ? * " > < | are removed`, name: `A/B\C.D:E?F*G"H>I<J|K`, want: "ABCDEFGHIJK"},
		"trimmed":          {reason: "surrounding space goes, inner space stays", name: "  Acme  Inc.  ", want: "Acme  Inc"},
		"trim after strip": {reason: "stripping may expose space to trim", name: ". Acme .", want: "Acme"},
		"nothing left":     {reason: "the slug when nothing is left", name: "...///", want: "acme"},
		"empty":            {reason: "the slug for an empty name", name: "", want: "acme"},
		"blank":            {reason: "the slug for a blank name", name: "   ", want: "acme"},
		"long":             {reason: "at most 255", name: strings.Repeat("a", 300), want: strings.Repeat("a", 255)},
		"long after strip": {reason: "the limit applies after stripping", name: strings.Repeat("a.", 200), want: strings.Repeat("a", 200)},
		"trim after cut":   {reason: "a cut must not leave trailing space", name: strings.Repeat("a", 254) + "  bbb", want: strings.Repeat("a", 254)},
		"unicode":          {reason: "non-ASCII is kept", name: "Café Zürich", want: "Café Zürich"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ocis.SpaceName(tc.name, "acme")); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
	t.Run("multibyte cut", func(t *testing.T) {
		got := ocis.SpaceName(strings.Repeat("é", 200), "acme")
		if !utf8.ValidString(got) || len(got) > 255 || utf8.RuneCountInString(got) != 127 {
			t.Errorf("got %d bytes, %d runes, valid=%v: want a valid name within 255 bytes (oCIS counts bytes)",
				len(got), utf8.RuneCountInString(got), utf8.ValidString(got))
		}
	})
}

func TestGroupName(t *testing.T) {
	if got := ocis.GroupName("tenant-", "acme"); got != "tenant-acme" {
		t.Errorf("GroupName = %q", got)
	}
}
