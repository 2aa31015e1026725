package store_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dezky/platform-api/store"
)

// TestValidationRefusesAddressesAndInvisibleText: mail domains are DNS names (no IP literal,
// no all-numeric label), and tenant and partner names carry nothing invisible that makes them
// read as something else.
func TestValidationRefusesAddressesAndInvisibleText(t *testing.T) {
	domain := func(d string) func(*store.Spec) { return func(s *store.Spec) { s.Mail = &store.MailSpec{Domain: d} } }
	name := func(n string) func(*store.Spec) { return func(s *store.Spec) { s.Name = n } }
	cases := map[string]struct {
		reason string
		mutate func(*store.Spec)
		field  string // "" = valid
	}{
		"IPv4":               {"an address is not a DNS name", domain("127.0.0.1"), "mail.domain"},
		"IPv4 public":        {"any address", domain("1.2.3.4"), "mail.domain"},
		"IPv6 literal":       {"a bracketed address literal", domain("[::1]"), "mail.domain"},
		"IPv6 bare":          {"an unbracketed IPv6 address", domain("::1"), "mail.domain"},
		"all numeric":        {"every label numeric, not an address", domain("123.456"), "mail.domain"},
		"numeric TLD":        {"RFC 3696: never an all-numeric top-level label", domain("example.123"), "mail.domain"},
		"numeric label":      {"wildcard DNS maps numeric labels to addresses", domain("10.0.0.1.nip.io"), "mail.domain"},
		"numeric subdomain":  {"any all-numeric label is refused", domain("123.example.com"), "mail.domain"},
		"digits and letters": {"a label with a digit and a letter is fine", domain("3com.example"), ""},
		"hex-looking":        {"a label that only looks like hex is fine", domain("0x7f.example"), ""},
		"bidi override":      {"U+202E reverses what follows", name("\u202eevil\u202c"), "name"},
		"bidi embedding":     {"U+202A", name("a\u202ab"), "name"},
		"bidi isolate":       {"U+2066..U+2069", name("a\u2066b\u2069"), "name"},
		"zero width space":   {"U+200B", name("ac\u200bme"), "name"},
		"zero width joiner":  {"U+200D", name("ac\u200dme"), "name"},
		"word joiner":        {"U+2060", name("ac\u2060me"), "name"},
		"BOM":                {"U+FEFF", name("\ufeffacme"), "name"},
		"soft hyphen":        {"U+00AD is a format character too", name("ac\u00adme"), "name"},
		"line separator":     {"U+2028", name("a\u2028b"), "name"},
		"paragraph sep":      {"U+2029", name("a\u2029b"), "name"},
		"only invisible":     {"nothing but format characters", name("\u200b\u200d"), "name"},
		"only fillers":       {"Hangul fillers render blank", name("\u3164\u3164"), "name"},
		"only braille blank": {"U+2800 renders blank", name("\u2800"), "name"},
		"only marks":         {"combining marks on nothing", name("\u0301\u0301"), "name"},
		"plain unicode":      {"letters of any script are fine", name("Bäckerei Müller 東京"), ""},
		"emoji":              {"a symbol is visible", name("Acme 🚀"), ""},
		"inner spaces":       {"spaces between words are fine", name("Acme  GmbH"), ""},
	}
	for n, tc := range cases {
		t.Run(n, func(t *testing.T) {
			spec := newTenant("valid-slug").Spec
			tc.mutate(&spec)
			err := store.ValidateSpec(spec)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("%s: %v", tc.reason, err)
				}
				return
			}
			var ve *store.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%s: err = %v, want a ValidationError", tc.reason, err)
			}
			var fields []string
			for _, f := range ve.Fields {
				fields = append(fields, f.Field)
			}
			if diff := cmp.Diff([]string{tc.field}, fields); diff != "" {
				t.Errorf("%s: fields named (-want +got):\n%s", tc.reason, diff)
			}
			if tc.field == "name" {
				err := store.ValidatePartner(store.Partner{Slug: "partner", Name: spec.Name, Status: store.PartnerActive})
				if !errors.As(err, &ve) || ve.Fields[0].Field != "name" {
					t.Errorf("%s: partner name: err = %v, want a ValidationError naming name", tc.reason, err)
				}
			}
		})
	}
}
