package ocissim

import (
	"net/http"
	"strings"
	"unicode"
)

// driveFilter is the one `<property> eq '<value>'` comparison oCIS turns into a CS3 filter
// (graph drives.go generateCs3Filters). A nil filter lists every drive.
type driveFilter struct {
	property string
	value    string
}

// comparisonOps are the OData comparison operators the parser knows; oCIS filters only on eq.
var comparisonOps = map[string]bool{"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true, "has": true, "in": true}

// parseDriveFilter follows oCIS 7.1: the expression's root operator must be eq, else 501
// notSupported "unsupported filter operand: <operator>" (and, or, not, ne, a function name);
// an eq on driveType or id filters, an eq on any other property is ignored (every drive is
// listed); an expression the OData parser rejects is 400 invalidRequest.
func parseDriveFilter(raw string) (*driveFilter, *apiError) {
	toks, bad := lexFilter(raw)
	if bad != "" {
		return nil, errf(http.StatusBadRequest, codeInvalidRequest, "Token '%s' is invalid", bad)
	}
	if len(toks) == 0 {
		return nil, errf(http.StatusBadRequest, codeInvalidRequest, "empty $filter")
	}
	// Redundant outer parentheses do not change the expression.
	for len(toks) >= 2 && toks[0] == "(" && toks[len(toks)-1] == ")" && closes(toks) == len(toks)-1 {
		toks = toks[1 : len(toks)-1]
	}
	// The root of the parse tree is the loosest-binding operator at depth 0: or, then and.
	for _, op := range []string{"or", "and"} {
		if topLevel(toks, op) {
			return nil, notSupported(op)
		}
	}
	switch {
	case strings.EqualFold(toks[0], "not"):
		return nil, notSupported("not")
	case len(toks) >= 2 && toks[1] == "(":
		return nil, notSupported(toks[0])
	case len(toks) == 2 && comparisonOps[toks[1]]:
		return nil, errf(http.StatusBadRequest, codeInvalidRequest, "insufficient number of operands for operator '%s'", toks[1])
	case len(toks) != 3 || !comparisonOps[toks[1]]:
		return nil, errf(http.StatusBadRequest, codeInvalidRequest, "invalid $filter: %q", raw)
	case toks[1] != "eq":
		return nil, notSupported(toks[1])
	}
	switch toks[0] {
	case "driveType", "id":
		// oCIS trims the quotes off the literal and unescapes nothing.
		return &driveFilter{property: toks[0], value: strings.Trim(toks[2], "'")}, nil
	}
	return nil, nil
}

func notSupported(op string) *apiError {
	return errf(http.StatusNotImplemented, codeNotSupported, "unsupported filter operand: %s", op)
}

// closes returns the index of the parenthesis closing toks[0].
func closes(toks []string) int {
	depth := 0
	for i, t := range toks {
		switch t {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// topLevel reports whether op occurs outside every parenthesis.
func topLevel(toks []string, op string) bool {
	depth := 0
	for _, t := range toks {
		switch {
		case t == "(":
			depth++
		case t == ")":
			depth--
		case depth == 0 && strings.EqualFold(t, op):
			return true
		}
	}
	return false
}

// lexFilter splits an OData filter into identifiers, single-quoted strings (” escapes a quote)
// and parentheses. An unterminated string is returned as bad, as the OData parser names it.
func lexFilter(s string) (toks []string, bad string) {
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
					return nil, s[i:]
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
	return toks, ""
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
