package ocissim

import (
	"net/http"
	"strings"
	"unicode"
)

// driveFilter is the one `<property> eq '<value>'` comparison oCIS turns into a CS3 filter
// (graph drives.go generateCs3Filters).
type driveFilter struct {
	property string
	value    string
}

// parseDriveFilter accepts exactly one eq on driveType or id. Any other operator, a logical
// combination or a function is "notSupported", as oCIS answers "unsupported filter operand".
// The simulator answers 400 where oCIS versions differ (501 or 500): the request can never
// succeed, so a client must see it as permanent.
func parseDriveFilter(raw string) (*driveFilter, *apiError) {
	toks, ok := lexFilter(raw)
	if !ok || len(toks) == 0 {
		return nil, errf(http.StatusBadRequest, codeInvalidRequest, "invalid $filter: %q", raw)
	}
	// Redundant outer parentheses do not change the expression.
	for len(toks) >= 2 && toks[0] == "(" && toks[len(toks)-1] == ")" {
		toks = toks[1 : len(toks)-1]
	}
	for _, t := range toks {
		switch l := strings.ToLower(t); l {
		case "and", "or", "not":
			return nil, errf(http.StatusBadRequest, codeNotSupported, "unsupported filter operand: %s", l)
		}
	}
	for i, t := range toks {
		if t == "(" {
			// A function call such as contains(name,'x'): its name precedes the parenthesis.
			op := "("
			if i > 0 {
				op = toks[i-1]
			}
			return nil, errf(http.StatusBadRequest, codeNotSupported, "unsupported filter operand: %s", op)
		}
	}
	if len(toks) != 3 || isQuoted(toks[0]) || isQuoted(toks[1]) {
		return nil, errf(http.StatusBadRequest, codeInvalidRequest, "invalid $filter: %q", raw)
	}
	if op := toks[1]; op != "eq" {
		return nil, errf(http.StatusBadRequest, codeNotSupported, "unsupported filter operand: %s", op)
	}
	if !isQuoted(toks[2]) {
		return nil, errf(http.StatusBadRequest, codeInvalidRequest, "invalid $filter: %q: the value must be a quoted string", raw)
	}
	prop := toks[0]
	if prop != "driveType" && prop != "id" {
		return nil, errf(http.StatusBadRequest, codeNotSupported, "unsupported filter property: %s", prop)
	}
	v := toks[2]
	return &driveFilter{property: prop, value: strings.ReplaceAll(v[1:len(v)-1], "''", "'")}, nil
}

func isQuoted(t string) bool { return len(t) >= 2 && t[0] == '\'' && t[len(t)-1] == '\'' }

// lexFilter splits an OData filter into identifiers, single-quoted strings (” escapes a quote)
// and parentheses.
func lexFilter(s string) ([]string, bool) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			j := i + 1
			for {
				if j >= len(s) {
					return nil, false
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t(),'", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, true
}

// parseOrderBy accepts what oCIS sorts drives by: name or lastModifiedDateTime, asc or desc.
func parseOrderBy(raw string) (field string, desc bool, e *apiError) {
	parts := strings.FieldsFunc(raw, unicode.IsSpace)
	if len(parts) == 0 || len(parts) > 2 {
		return "", false, errf(http.StatusBadRequest, codeInvalidRequest, "invalid $orderby: %q", raw)
	}
	if len(parts) == 2 {
		switch parts[1] {
		case "asc":
		case "desc":
			desc = true
		default:
			return "", false, errf(http.StatusBadRequest, codeInvalidRequest, "invalid $orderby: %q", raw)
		}
	}
	switch parts[0] {
	case "name", "lastModifiedDateTime":
		return parts[0], desc, nil
	}
	return "", false, errf(http.StatusBadRequest, codeInvalidRequest, "we do not support <%s> as a order parameter", parts[0])
}
