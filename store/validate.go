package store

import (
	"net/mail"
	"net/netip"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dezky/platform-api/plan"
)

var (
	// slugPattern is the slug of docs/ARCHITECTURE.md ("tenants"): 3–40 lowercase letters, digits and inner dashes.
	slugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{1,38}[a-z0-9])$`)
	// dnsLabel is one lowercase LDH label of a domain name.
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// MaxSubjectLen is the longest owner subject (the token's "sub") a tenant can hold. The API
// refuses longer tokens at authentication, so a caller never sees a field it did not send.
const MaxSubjectLen = 255

// Limits on free text and quotas.
const (
	maxNameLen = 200
	// maxQuotaBytes (1 PiB) catches a unit mistake long before an upstream would.
	maxQuotaBytes int64 = 1 << 50
)

// ValidateSlug checks a tenant or partner slug; field names the offending field in the error.
func ValidateSlug(field, slug string) error {
	ve := &ValidationError{}
	checkSlug(ve, field, slug)
	return ve.orNil()
}

func checkSlug(ve *ValidationError, field, slug string) {
	switch {
	case slug == "":
		ve.add(field, "is required")
	case !slugPattern.MatchString(slug):
		ve.add(field, "must be 3-40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit")
	}
}

// ValidateSpec checks a tenant spec. Field names are as in the API body (name, plan,
// mail.domain, ...).
func ValidateSpec(s Spec) error {
	ve := &ValidationError{}
	checkText(ve, "name", s.Name, true)
	if _, ok := plan.Lookup(s.Plan); !ok {
		ve.add("plan", "must be one of %s", strings.Join(plan.Names(), ", "))
	}
	if s.PartnerID != "" {
		checkSlug(ve, "partnerId", s.PartnerID)
	}
	if s.Owner.Email != "" {
		if a, err := mail.ParseAddress(s.Owner.Email); err != nil || a.Address != s.Owner.Email {
			ve.add("owner.email", "must be a plain email address")
		}
	}
	if len(s.Owner.Sub) > MaxSubjectLen {
		ve.add("owner.sub", "must be at most %d characters", MaxSubjectLen)
	}
	if s.Mail != nil {
		checkDomain(ve, "mail.domain", s.Mail.Domain)
		checkQuota(ve, "mail.quotaBytes", s.Mail.QuotaBytes)
	}
	if s.Storage != nil {
		checkQuota(ve, "storage.quotaBytes", s.Storage.QuotaBytes)
	}
	switch s.ManagementPolicy {
	case "", PolicyFull, PolicyObserveOnly:
	default:
		ve.add("managementPolicy", "must be %q or %q", PolicyFull, PolicyObserveOnly)
	}
	return ve.orNil()
}

// ValidatePartner checks a partner document's user-supplied fields.
func ValidatePartner(p Partner) error {
	ve := &ValidationError{}
	checkSlug(ve, "slug", p.Slug)
	checkText(ve, "name", p.Name, true)
	if p.Contact != "" {
		if a, err := mail.ParseAddress(p.Contact); err != nil || a.Address != p.Contact {
			ve.add("contact", "must be a plain email address")
		}
	}
	if p.Status != PartnerActive && p.Status != PartnerSuspended {
		ve.add("status", "must be %q or %q", PartnerActive, PartnerSuspended)
	}
	return ve.orNil()
}

// checkText checks a display name. Besides control characters it refuses what makes a name
// look like something it is not: bidi controls that reverse what follows (U+202E turns
// "acme\u202Egpj.exe" into "acmeexe.jpg"), zero-width and other invisible format characters
// (Unicode category Cf: U+200B, U+200D, U+2060, U+FEFF, ...) that make two different names
// look alike, line and paragraph separators (U+2028, U+2029) that break lines in logs and
// UIs, and names that show nothing at all.
func checkText(ve *ValidationError, field, s string, required bool) {
	switch {
	case strings.TrimSpace(s) == "":
		if required {
			ve.add(field, "is required")
		}
	case !utf8.ValidString(s):
		ve.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > maxNameLen:
		ve.add(field, "must be at most %d characters", maxNameLen)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		ve.add(field, "must not contain control characters")
	case strings.IndexFunc(s, invisible) >= 0:
		ve.add(field, "must not contain invisible or bidirectional formatting characters (such as U+200B or U+202E) or line separators")
	case strings.IndexFunc(s, visible) < 0:
		ve.add(field, "must contain a visible letter, digit, punctuation mark or symbol")
	}
}

// invisible: a format character (Cf: bidi controls, zero-width characters, the BOM, soft
// hyphen, ...) or a line or paragraph separator.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// visible: a rune that shows as something. Letters that render blank (the Hangul fillers) and
// the blank Braille pattern are letters and symbols by category, so they are named here.
func visible(r rune) bool {
	switch r {
	case '\u115F', '\u1160', '\u3164', '\uFFA0', '\u2800':
		return false
	}
	return unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S)
}

func checkQuota(ve *ValidationError, field string, q int64) {
	if q < 0 || q > maxQuotaBytes {
		ve.add(field, "must be between 0 (the plan's quota) and %d bytes", maxQuotaBytes)
	}
}

// NormalizeDomain lower-cases the ASCII letters of a mail domain. DNS names compare without
// regard to case (RFC 4343), so "Acme.Example" and "acme.example" are one domain; the store
// keeps the lowercase spelling, which is what its unique index compares. Only ASCII is
// folded: strings.ToLower would turn the Kelvin sign (U+212A) into "k" and let a look-alike
// of another tenant's domain through validation.
func NormalizeDomain(d string) string {
	b := []byte(d)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// checkDomain checks a mail domain, already normalised: a lowercase DNS name of LDH labels.
// An IP literal is refused, and so is every all-numeric label, not only the top-level one
// (which RFC 3696 §2 already excludes): wildcard DNS services map such labels to addresses
// ("10.0.0.1.nip.io" resolves to 10.0.0.1), which would point the mail server at an
// internal host, and no customer's mail domain needs one.
func checkDomain(ve *ValidationError, field, d string) {
	switch {
	case d == "":
		ve.add(field, "is required when mail is set")
	case isIPLiteral(d):
		ve.add(field, "must be a DNS name, not an IP address")
	case !validDomain(d):
		ve.add(field, "must be a lowercase DNS name such as mail.example.com")
	case hasNumericLabel(d):
		ve.add(field, "must not have an all-numeric label (such as the 123 of example.123)")
	}
}

// isIPLiteral: an IPv4 or IPv6 address, bare or in the brackets of a mail address literal.
func isIPLiteral(d string) bool {
	_, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(d, "["), "]"))
	return err == nil
}

func validDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if !dnsLabel.MatchString(l) {
			return false
		}
	}
	return true
}

func hasNumericLabel(d string) bool {
	for _, l := range strings.Split(d, ".") {
		if strings.Trim(l, "0123456789") == "" {
			return true
		}
	}
	return false
}
