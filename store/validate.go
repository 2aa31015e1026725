package store

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dezky/platform-api/plan"
)

var (
	// slugPattern is DESIGN §4's slug: 3–40 lowercase letters, digits and inner dashes.
	slugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{1,38}[a-z0-9])$`)
	// dnsLabel is one lowercase LDH label of a domain name.
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

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
	if len(s.Owner.Sub) > 255 {
		ve.add("owner.sub", "must be at most 255 characters")
	}
	if s.Mail != nil {
		if s.Mail.Domain == "" {
			ve.add("mail.domain", "is required when mail is set")
		} else if !validDomain(s.Mail.Domain) {
			ve.add("mail.domain", "must be a lowercase DNS name such as mail.example.com")
		}
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
	}
}

func checkQuota(ve *ValidationError, field string, q int64) {
	if q < 0 || q > maxQuotaBytes {
		ve.add(field, "must be between 0 (the plan's quota) and %d bytes", maxQuotaBytes)
	}
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
