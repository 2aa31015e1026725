package ocis

import (
	"strings"
	"unicode/utf8"
)

// maxSpaceName is oCIS's space-name limit. oCIS measures it with len(), in bytes, so the name is
// cut at 255 bytes on a rune boundary: that is also at most 255 characters and is
// never refused for length by a real server.
const maxSpaceName = 255

// spaceNameForbidden are the characters oCIS refuses in a space name.
const spaceNameForbidden = `/\.:?*"><|`

// SpaceName derives the project space name from the tenant's display name: the characters oCIS
// forbids removed, surrounding space trimmed, at most 255 bytes; the slug when nothing is left.
func SpaceName(name, slug string) string {
	n := strings.Map(func(r rune) rune {
		if strings.ContainsRune(spaceNameForbidden, r) {
			return -1
		}
		return r
	}, name)
	n = strings.TrimSpace(n)
	if len(n) > maxSpaceName {
		cut := maxSpaceName
		for cut > 0 && !utf8.RuneStart(n[cut]) {
			cut--
		}
		n = strings.TrimSpace(n[:cut])
	}
	if n == "" {
		return slug
	}
	return n
}

// GroupName is the tenant's oCIS group display name.
func GroupName(prefix, slug string) string { return prefix + slug }
