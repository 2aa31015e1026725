package stalwartsim

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"
)

// Arguments each standard method accepts (RFC 8620 §5.1, §5.3, §5.5). Anything else is
// invalidArguments, so a client cannot send what the protocol does not declare.
var allowedArgs = map[string][]string{
	"get":   {"accountId", "ids", "properties"},
	"set":   {"accountId", "ifInState", "create", "update", "destroy"},
	"query": {"accountId", "filter", "sort", "position", "anchor", "anchorOffset", "limit", "calculateTotal"},
}

// filterConditions are the query filter conditions per type, from domain.md and account.md
// (plus "@type" for Account, which the schema's Groups list filters on) and the schema's
// DkimSignature list filters.
var filterConditions = map[string][]string{
	typeDomain:  {"text", "name", "memberTenantId"},
	typeAccount: {"text", "name", "domainId", "memberTenantId", "memberGroupIds", "@type"},
	typeDkim:    {"domainId", "memberTenantId"},
}

func checkArgs(method string, args map[string]any) *methodError {
	for k := range args {
		if !slices.Contains(allowedArgs[method], k) {
			return invalidArguments("Unknown argument %q.", k)
		}
	}
	return nil
}

// render builds the client view of an object: its stored properties, the schema defaults of the
// absent ones and empty containers, restricted to props when given ("id" always included).
func (s *Server) render(typ string, o *object, props []string) map[string]any {
	out := map[string]any{}
	if name, ok := schemaOf[typ]; ok {
		if fs, ok := s.schema.fieldsOf(name, o.props); ok {
			for p, spec := range fs.Properties {
				switch {
				case fs.Defaults[p] != nil:
					out[p] = fs.Defaults[p]
				case spec.Type.Nullable:
					out[p] = nil
				case spec.Type.Type == "set" || spec.Type.Type == "map" || spec.Type.Type == "objectList":
					out[p] = map[string]any{}
				case spec.Type.Type == "boolean":
					out[p] = false
				}
			}
		}
	}
	maps.Copy(out, deepCopy(o.props).(map[string]any))
	out["id"] = o.id
	if props == nil {
		return out
	}
	filtered := map[string]any{"id": o.id}
	for _, p := range props {
		if v, ok := out[p]; ok {
			filtered[p] = v
		}
	}
	return filtered
}

// knownProperty reports whether p may be requested in /get properties for typ.
func (s *Server) knownProperty(typ, p string) bool {
	if p == "id" || (p == "@type" && typ != typeDomain) {
		return true
	}
	switch typ {
	case typeDomain:
		_, ok := s.schema.Fields["x:Domain"].Properties[p]
		return ok
	case typeAccount:
		_, u := s.schema.Fields["x:UserAccount"].Properties[p]
		_, g := s.schema.Fields["x:GroupAccount"].Properties[p]
		return u || g
	}
	return true
}

func stringList(v any) ([]string, bool) {
	arr, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, ok := x.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// get implements x:<Type>/get.
func (s *Server) get(typ string, args map[string]any) (any, *methodError) {
	if err := checkArgs("get", args); err != nil {
		return nil, err
	}
	var props []string
	if v := args["properties"]; v != nil {
		var ok bool
		if props, ok = stringList(v); !ok {
			return nil, invalidArguments(`Invalid "properties".`)
		}
		for _, p := range props {
			if !s.knownProperty(typ, p) {
				return nil, invalidArguments("Invalid property %q.", p)
			}
		}
	}
	var ids []string
	if v := args["ids"]; v != nil {
		var ok bool
		if ids, ok = stringList(v); !ok {
			return nil, invalidArguments(`Invalid "ids".`)
		}
	} else {
		for _, o := range s.reg.sorted(typ) {
			ids = append(ids, o.id)
		}
	}
	if len(ids) > s.opts.MaxObjectsInGet {
		return nil, &methodError{Type: "requestTooLarge", Description: "Too many objects requested."}
	}
	list := []any{}
	notFound := []string{}
	for _, id := range ids {
		o, ok := s.reg.objects[typ][id]
		if !ok {
			notFound = append(notFound, id)
			continue
		}
		list = append(list, s.render(typ, o, props))
	}
	return map[string]any{
		"accountId": adminAccountID,
		"state":     s.reg.stateOf(typ),
		"list":      list,
		"notFound":  notFound,
	}, nil
}

// query implements x:<Type>/query with RFC 8620 paging (position or anchor, limit capped at
// QueryMaxResults, calculateTotal). Text conditions are case-insensitive substring matches, so
// a name filter also returns longer names containing it.
func (s *Server) query(typ string, args map[string]any) (any, *methodError) {
	if err := checkArgs("query", args); err != nil {
		return nil, err
	}
	if sort, ok := args["sort"].([]any); ok && len(sort) > 0 {
		return nil, &methodError{Type: "unsupportedSort", Description: "Sorting is not supported by the simulator."}
	}
	var matched []string
	for _, o := range s.reg.sorted(typ) {
		ok, err := s.matches(typ, o, args["filter"])
		if err != nil {
			return nil, err
		}
		if ok {
			matched = append(matched, o.id)
		}
	}
	position := 0
	if v, ok := args["position"].(json.Number); ok {
		n, err := v.Int64()
		if err != nil {
			return nil, invalidArguments(`Invalid "position".`)
		}
		position = int(n)
		if position < 0 {
			position = max(0, len(matched)+position)
		}
	}
	if v, ok := args["anchor"].(string); ok {
		idx := slices.Index(matched, v)
		if idx < 0 {
			return nil, &methodError{Type: "anchorNotFound", Description: "Anchor not found."}
		}
		off := 0
		if n, ok := args["anchorOffset"].(json.Number); ok {
			x, _ := n.Int64()
			off = int(x)
		}
		position = max(0, idx+off)
	}
	limit, capped := s.opts.QueryMaxResults, true
	if v, ok := args["limit"].(json.Number); ok {
		n, err := v.Int64()
		if err != nil || n < 0 {
			return nil, invalidArguments(`Invalid "limit".`)
		}
		if int(n) <= s.opts.QueryMaxResults {
			limit, capped = int(n), false
		}
	}
	page := []string{}
	if position < len(matched) {
		page = matched[position:min(len(matched), position+limit)]
	}
	out := map[string]any{
		"accountId":           adminAccountID,
		"queryState":          s.reg.stateOf(typ),
		"canCalculateChanges": false,
		"position":            position,
		"ids":                 page,
	}
	if capped {
		out["limit"] = limit
	}
	if args["calculateTotal"] == true {
		out["total"] = len(matched)
	}
	return out, nil
}

// matches evaluates a FilterOperator or FilterCondition against o.
func (s *Server) matches(typ string, o *object, filter any) (bool, *methodError) {
	if filter == nil {
		return true, nil
	}
	f, ok := filter.(map[string]any)
	if !ok {
		return false, invalidArguments(`Invalid "filter".`)
	}
	if op, ok := f["operator"].(string); ok {
		conds, _ := f["conditions"].([]any)
		results := make([]bool, 0, len(conds))
		for _, c := range conds {
			r, err := s.matches(typ, o, c)
			if err != nil {
				return false, err
			}
			results = append(results, r)
		}
		switch op {
		case "AND":
			return !slices.Contains(results, false), nil
		case "OR":
			return slices.Contains(results, true), nil
		case "NOT":
			return !slices.Contains(results, true), nil
		}
		return false, &methodError{Type: "unsupportedFilter", Description: "Unknown operator " + op}
	}
	for k, v := range f {
		if !slices.Contains(filterConditions[typ], k) {
			return false, &methodError{Type: "unsupportedFilter", Description: "Unsupported filter property " + k}
		}
		want, ok := v.(string)
		if !ok {
			return false, &methodError{Type: "unsupportedFilter", Description: "Invalid value for filter " + k}
		}
		var hit bool
		switch k {
		case "name":
			hit = containsFold(str(o.props, "name"), want)
		case "text":
			hit = containsFold(str(o.props, "name"), want) || containsFold(str(o.props, "description"), want) ||
				containsFold(str(o.props, "emailAddress"), want)
		case "memberGroupIds":
			groups, _ := o.props["memberGroupIds"].(map[string]any)
			hit = groups[want] == true
		default: // exact id or type match
			hit = str(o.props, k) == want
		}
		if !hit {
			return false, nil
		}
	}
	return true, nil
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// set implements x:<Type>/set: creates, then updates, then destroys, each failure reported in
// notCreated/notUpdated/notDestroyed (RFC 8620 §5.3) with Stalwart's registry SetErrors.
func (s *Server) set(typ string, args map[string]any) (any, *methodError) {
	if err := checkArgs("set", args); err != nil {
		return nil, err
	}
	create, _ := args["create"].(map[string]any)
	update, _ := args["update"].(map[string]any)
	var destroy []string
	if v := args["destroy"]; v != nil {
		var ok bool
		if destroy, ok = stringList(v); !ok {
			return nil, invalidArguments(`Invalid "destroy".`)
		}
	}
	if (args["create"] != nil && create == nil) || (args["update"] != nil && update == nil) {
		return nil, invalidArguments(`Invalid "create" or "update".`)
	}
	if len(create)+len(update)+len(destroy) > s.opts.MaxObjectsInSet {
		return nil, &methodError{Type: "requestTooLarge", Description: "Too many objects in a single /set call."}
	}
	oldState := s.reg.stateOf(typ)
	if v, ok := args["ifInState"].(string); ok && v != oldState {
		return nil, &methodError{Type: "stateMismatch", Description: "State mismatch."}
	}
	created, notCreated := map[string]any{}, map[string]any{}
	updated, notUpdated := map[string]any{}, map[string]any{}
	destroyed, notDestroyed := []string{}, map[string]any{}

	for _, cid := range slices.Sorted(maps.Keys(create)) {
		id, err := s.createOne(typ, create[cid])
		if err != nil {
			notCreated[cid] = err
			continue
		}
		created[cid] = map[string]any{"id": id}
	}
	for _, id := range slices.Sorted(maps.Keys(update)) {
		if slices.Contains(destroy, id) {
			notUpdated[id] = &setError{Type: "willDestroy", Description: "ID will be destroyed."}
			continue
		}
		if err := s.updateOne(typ, id, update[id]); err != nil {
			notUpdated[id] = err
			continue
		}
		updated[id] = nil
	}
	for _, id := range destroy {
		if _, ok := s.reg.objects[typ][id]; !ok {
			notDestroyed[id] = &setError{Type: "notFound"}
			continue
		}
		if linked := s.linkedTo(typ, id); len(linked) > 0 {
			notDestroyed[id] = &setError{Type: "objectIsLinked",
				ObjectID: &objectRef{Object: typ, ID: id}, LinkedObjects: linked}
			continue
		}
		s.reg.remove(typ, id)
		destroyed = append(destroyed, id)
	}
	out := map[string]any{"accountId": adminAccountID, "oldState": oldState, "newState": s.reg.stateOf(typ)}
	// Stalwart leaves empty members out of a /set response (skip_serializing_if is_empty).
	for k, v := range map[string]map[string]any{"created": created, "updated": updated,
		"notCreated": notCreated, "notUpdated": notUpdated, "notDestroyed": notDestroyed} {
		if len(v) > 0 {
			out[k] = v
		}
	}
	if len(destroyed) > 0 {
		out["destroyed"] = destroyed
	}
	return out, nil
}

// createOne validates and stores one new object.
func (s *Server) createOne(typ string, v any) (string, *setError) {
	name, ok := schemaOf[typ]
	if !ok {
		return "", &setError{Type: "forbidden", Description: "Creating " + typ + " objects is not supported by the simulator."}
	}
	if err := s.schema.validateObject(name, v, ""); err != nil {
		return "", err
	}
	props := deepCopy(v).(map[string]any)
	if err := checkRequired(concreteSchema(typ, props), props); err != nil {
		return "", err
	}
	var err *setError
	if typ == typeDomain {
		err = s.finishDomain("", props)
	} else {
		err = s.finishAccount("", props)
	}
	if err != nil {
		return "", err
	}
	props["createdAt"] = s.now().UTC().Format(time.RFC3339)
	if typ == typeAccount {
		props["usedDiskQuota"] = json.Number("0")
	}
	o := s.reg.insert(typ, props)
	if typ == typeDomain {
		s.generateDkim(o.id, props)
	}
	return o.id, nil
}

// updateOne applies one PatchObject to a copy of the stored object and commits it only when every
// entry applies and the result is still valid.
func (s *Server) updateOne(typ, id string, v any) *setError {
	o, ok := s.reg.objects[typ][id]
	if !ok {
		return &setError{Type: "notFound"}
	}
	name, ok := schemaOf[typ]
	if !ok {
		return &setError{Type: "forbidden", Description: "Updating " + typ + " objects is not supported by the simulator."}
	}
	patch, ok := v.(map[string]any)
	if !ok {
		return &setError{Type: "invalidPatch", Description: msgInvalidValue}
	}
	props := deepCopy(o.props).(map[string]any)
	fs, _ := s.schema.fieldsOf(name, props)
	for _, key := range slices.Sorted(maps.Keys(patch)) {
		if key == "@type" {
			if patch[key] != props["@type"] {
				return invalidPatch(key, "Changing the object type is not supported by the simulator")
			}
			continue
		}
		if err := s.schema.applyPatch(props, fs, splitPointer(key), deepCopy(patch[key]), key); err != nil {
			return err
		}
	}
	var err *setError
	if typ == typeDomain {
		err = s.finishDomain(id, props)
	} else {
		err = s.finishAccount(id, props)
	}
	if err != nil {
		return err
	}
	o.props = props
	s.reg.touch(typ)
	if typ == typeDomain {
		for _, a := range s.reg.sorted(typeAccount) {
			if str(a.props, "domainId") == id {
				a.props["emailAddress"] = str(a.props, "name") + "@" + str(props, "name")
			}
		}
	}
	return nil
}
