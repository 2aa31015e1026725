package authentiksim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// groupInput is a validated GroupRequest (create, PUT) or PatchedGroupRequest (PATCH); nil
// fields were absent.
type groupInput struct {
	name        *string
	isSuperuser *bool
	parents     *[]string
	users       *[]int
	attributes  map[string]any
	hasAttrs    bool
}

// parseGroupInput validates a group body with the GroupSerializer's rules: name required unless
// partial, non-blank after trimming and unique among groups (the unique text column); attributes
// a JSON object; users and parents lists of existing primary keys; roles must exist (the
// simulator has none). Unknown and read-only properties are ignored, as DRF ignores them.
// Errors come back as DRF's ValidationError body: field → messages. Callers hold mu.
func (s *Server) parseGroupInput(data map[string]any, partial bool, self *group) (groupInput, map[string][]string) {
	var in groupInput
	errs := map[string][]string{}

	if raw, ok := data["name"]; ok {
		if name, msg := stringValue(raw); msg != "" {
			errs["name"] = []string{msg}
		} else if other := s.groupNamed(name); other != nil && other != self {
			errs["name"] = []string{msgGroupNameTaken}
		} else {
			in.name = &name
		}
	} else if !partial {
		errs["name"] = []string{msgRequired}
	}

	if raw, ok := data["is_superuser"]; ok {
		if b, ok := boolJSON(raw); ok {
			in.isSuperuser = &b
		} else {
			errs["is_superuser"] = []string{"Must be a valid boolean."}
		}
	}

	if raw, ok := data["attributes"]; ok {
		switch v := raw.(type) {
		case nil:
			errs["attributes"] = []string{msgNull}
		case map[string]any:
			in.attributes, in.hasAttrs = cloneAttrs(v), true
		default:
			errs["attributes"] = []string{"Value must be a dictionary, and not have any duplicate keys."}
		}
	} else if !partial {
		in.attributes, in.hasAttrs = map[string]any{}, true
	}

	if raw, ok := data["users"]; ok {
		pks, msg := s.userPKs(raw)
		if msg != "" {
			errs["users"] = []string{msg}
		} else {
			in.users = &pks
		}
	}

	if raw, ok := data["parents"]; ok {
		ids, msg := s.groupPKs(raw, self)
		if msg != "" {
			errs["parents"] = []string{msg}
		} else {
			in.parents = &ids
		}
	}

	if raw, ok := data["roles"]; ok {
		list, isList := raw.([]any)
		switch {
		case !isList:
			errs["roles"] = []string{fmt.Sprintf("Expected a list of items but got type %q.", jsonTypeName(raw))}
		case len(list) > 0:
			errs["roles"] = []string{fmt.Sprintf("Invalid pk %q - object does not exist.", fmt.Sprint(list[0]))}
		}
	}
	return in, errs
}

// apply writes a validated input onto a stored group. Callers hold mu.
func (in groupInput) apply(g *group) {
	if in.name != nil {
		g.name = *in.name
	}
	if in.isSuperuser != nil {
		g.isSuperuser = *in.isSuperuser
	}
	if in.hasAttrs {
		g.attributes = in.attributes
	}
	if in.parents != nil {
		g.parents = *in.parents
	}
	if in.users != nil {
		g.users = map[int]bool{}
		for _, pk := range *in.users {
			g.users[pk] = true
		}
	}
}

// userPKs validates a PrimaryKeyRelatedField(many=True) of users: the first bad item fails the
// field. Callers hold mu.
func (s *Server) userPKs(raw any) ([]int, string) {
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Sprintf("Expected a list of items but got type %q.", jsonTypeName(raw))
	}
	out := []int{}
	for _, item := range list {
		pk, ok := intValue(item)
		if !ok {
			return nil, fmt.Sprintf("Incorrect type. Expected pk value, received %s.", jsonTypeName(item))
		}
		if _, exists := s.users[pk]; !exists {
			return nil, fmt.Sprintf("Invalid pk %q - object does not exist.", strconv.Itoa(pk))
		}
		out = append(out, pk)
	}
	return out, ""
}

// groupPKs validates the parents list: existing group UUIDs, never the group itself. Callers
// hold mu.
func (s *Server) groupPKs(raw any, self *group) ([]string, string) {
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Sprintf("Expected a list of items but got type %q.", jsonTypeName(raw))
	}
	out := []string{}
	for _, item := range list {
		str, _ := item.(string)
		id, ok := canonicalUUID(str)
		if _, exists := s.groups[id]; !ok || !exists {
			return nil, fmt.Sprintf("Invalid pk %q - object does not exist.", fmt.Sprint(item))
		}
		if self != nil && id == self.pk {
			return nil, "Cannot set group as parent of itself."
		}
		out = append(out, id)
	}
	return out, ""
}

// stringValue applies DRF's CharField: strings and numbers are accepted, whitespace trimmed,
// blank and null refused.
func stringValue(raw any) (string, string) {
	var s string
	switch v := raw.(type) {
	case nil:
		return "", msgNull
	case string:
		s = v
	case json.Number:
		s = v.String()
	default:
		return "", "Not a valid string."
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", msgBlank
	}
	return s, ""
}

// boolJSON applies DRF's BooleanField to a decoded JSON value.
func boolJSON(raw any) (bool, bool) {
	switch v := raw.(type) {
	case bool:
		return v, true
	case json.Number:
		return boolValue(v.String())
	case string:
		return boolValue(v)
	}
	return false, false
}

// boolValue accepts the spellings DRF's BooleanField and django-filter accept.
func boolValue(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "t", "yes", "y", "on", "1":
		return true, true
	case "false", "f", "no", "n", "off", "0":
		return false, true
	}
	return false, false
}

// intValue accepts a JSON integer or a string of digits (DRF's IntegerField).
func intValue(raw any) (int, bool) {
	switch v := raw.(type) {
	case json.Number:
		n, err := strconv.Atoi(v.String())
		return n, err == nil
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		return n, err == nil
	}
	return 0, false
}
