package stalwartsim

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// schemaJSON is the part of Stalwart's object schema (stalwart-v0.16-schema.json, served by the
// server at /api/schema) reachable from x:Domain and x:Account, with human labels stripped. The
// simulator validates every property a client writes against it, so it accepts exactly what the
// real server's schema declares; TestEmbeddedSchemaMatchesUpstream keeps it equal to the upstream
// file.
//
//go:embed schema.json
var schemaJSON []byte

// Update modes of a property, as the schema names them.
const (
	updateServerSet = "serverSet"
)

// typeSpec is one property type of the schema ("type" is string, boolean, number, objectId,
// utcDateTime, enum, set, objectList, map or object).
type typeSpec struct {
	Type       string    `json:"type"`
	Format     string    `json:"format,omitempty"`
	Nullable   bool      `json:"nullable,omitempty"`
	ObjectName string    `json:"objectName,omitempty"`
	EnumName   string    `json:"enumName,omitempty"`
	Class      *typeSpec `json:"class,omitempty"`
	KeyClass   *typeSpec `json:"keyClass,omitempty"`
	ValueClass *typeSpec `json:"valueClass,omitempty"`
	MinItems   int       `json:"minItems,omitempty"`
}

// propSpec is one declared property of an object.
type propSpec struct {
	Type       typeSpec `json:"type"`
	Update     string   `json:"update"`
	Enterprise bool     `json:"enterprise,omitempty"`
}

// fieldSet is the property list of one concrete schema (x:Domain, x:GroupAccount, ...).
type fieldSet struct {
	Properties map[string]propSpec `json:"properties"`
	Defaults   map[string]any      `json:"defaults,omitempty"`
}

// variant is one "@type" of a multi-variant schema; SchemaName is empty when the variant carries
// no fields.
type variant struct {
	Name       string `json:"name"`
	SchemaName string `json:"schemaName,omitempty"`
}

// schemaDef is an entry of the schema's "schemas" table: "single" points at one field set,
// "multiple" selects one by "@type".
type schemaDef struct {
	Type       string    `json:"type"`
	SchemaName string    `json:"schemaName,omitempty"`
	Variants   []variant `json:"variants,omitempty"`
}

// schema is the embedded extract.
type schema struct {
	Schemas map[string]schemaDef `json:"schemas"`
	Fields  map[string]fieldSet  `json:"fields"`
	Enums   map[string][]string  `json:"enums"`
}

func loadSchema() (*schema, error) {
	var s schema
	if err := json.Unmarshal(schemaJSON, &s); err != nil {
		return nil, fmt.Errorf("embedded stalwart schema: %w", err)
	}
	return &s, nil
}

// Texts of Stalwart's PatchError descriptions (crates/registry), which become invalidPatch
// SetErrors naming the offending path.
const (
	msgInvalidProperty = "Invalid property"
	msgInvalidValue    = "Invalid value for object property"
	msgServerSet       = "Cannot modify server set property"
	msgInvalidPath     = "Invalid path"
	msgInvalidType     = "Invalid or missing @type"
)

func invalidPatch(path, msg string) *setError {
	return &setError{Type: "invalidPatch", Description: msg, Properties: []string{path}}
}

// fieldsOf resolves the field set of an object value of schema name (for multi-variant schemas
// through its "@type"). ok is false when the value does not select a valid variant.
func (s *schema) fieldsOf(name string, obj map[string]any) (fieldSet, bool) {
	def, ok := s.Schemas[name]
	if !ok {
		return fieldSet{}, false
	}
	if def.Type == "single" {
		return s.Fields[def.SchemaName], true
	}
	t, _ := obj["@type"].(string)
	for _, v := range def.Variants {
		if v.Name == t {
			if v.SchemaName == "" {
				return fieldSet{Properties: map[string]propSpec{}}, true
			}
			return s.Fields[v.SchemaName], true
		}
	}
	return fieldSet{}, false
}

// validateObject checks a whole object value of schema name: a valid "@type" where the schema
// has variants, only declared properties, none server-set, every value of its declared type.
func (s *schema) validateObject(name string, v any, path string) *setError {
	obj, ok := v.(map[string]any)
	if !ok {
		return invalidPatch(path, msgInvalidValue)
	}
	fs, ok := s.fieldsOf(name, obj)
	if !ok {
		return invalidPatch(joinPath(path, "@type"), msgInvalidType)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report the same property first on every run
	for _, k := range keys {
		if k == "@type" {
			continue
		}
		p, ok := fs.Properties[k]
		if !ok {
			return invalidPatch(joinPath(path, k), msgInvalidProperty)
		}
		if p.Update == updateServerSet {
			return invalidPatch(joinPath(path, k), msgServerSet)
		}
		if err := s.validateValue(p.Type, obj[k], joinPath(path, k)); err != nil {
			return err
		}
	}
	return nil
}

// validateValue checks one value against its declared type, using Stalwart's encodings: a Set is
// an object of members mapped to true, a List an object keyed "0","1",…, sizes and durations
// integers.
func (s *schema) validateValue(t typeSpec, v any, path string) *setError {
	if v == nil {
		if t.Nullable {
			return nil
		}
		return invalidPatch(path, msgInvalidValue)
	}
	bad := invalidPatch(path, msgInvalidValue)
	switch t.Type {
	case "string", "objectId", "utcDateTime":
		str, ok := v.(string)
		if !ok {
			return bad
		}
		if t.Format == "emailAddress" && !strings.Contains(str, "@") {
			return bad
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return bad
		}
	case "number":
		n, ok := v.(json.Number)
		if !ok {
			return bad
		}
		switch t.Format {
		case "unsignedInteger", "size", "duration":
			if _, err := strconv.ParseUint(n.String(), 10, 64); err != nil {
				return bad
			}
		}
	case "enum":
		str, ok := v.(string)
		if !ok || !slices.Contains(s.Enums[t.EnumName], str) {
			return bad
		}
	case "set":
		m, ok := v.(map[string]any)
		if !ok || len(m) < t.MinItems {
			return bad
		}
		for k, member := range m {
			if b, ok := member.(bool); !ok || !b {
				return invalidPatch(joinPath(path, k), msgInvalidValue)
			}
			if t.Class != nil {
				if err := s.validateValue(*t.Class, k, joinPath(path, k)); err != nil {
					return err
				}
			}
		}
	case "objectList":
		m, ok := v.(map[string]any)
		if !ok || len(m) < t.MinItems {
			return bad
		}
		for i := range len(m) {
			el, ok := m[strconv.Itoa(i)]
			if !ok {
				return bad // keys must be the positions "0".."n-1"
			}
			if err := s.validateObject(t.ObjectName, el, joinPath(path, strconv.Itoa(i))); err != nil {
				return err
			}
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return bad
		}
		for k, val := range m {
			if t.KeyClass != nil {
				if err := s.validateValue(*t.KeyClass, k, joinPath(path, k)); err != nil {
					return err
				}
			}
			if t.ValueClass != nil {
				if err := s.validateValue(*t.ValueClass, val, joinPath(path, k)); err != nil {
					return err
				}
			}
		}
	case "object":
		return s.validateObject(t.ObjectName, v, path)
	default:
		return bad
	}
	return nil
}

// applyPatch applies one RFC 8620 PatchObject entry (a JSON pointer relative to the object, e.g.
// "quotas/maxDiskQuota" or "description") to obj, whose properties are fs. A null value removes
// a map entry or set member and clears a nullable property.
func (s *schema) applyPatch(obj map[string]any, fs fieldSet, segs []string, value any, path string) *setError {
	prop := segs[0]
	p, ok := fs.Properties[prop]
	if !ok {
		return invalidPatch(path, msgInvalidProperty)
	}
	if p.Update == updateServerSet {
		return invalidPatch(path, msgServerSet)
	}
	if len(segs) == 1 {
		if err := s.validateValue(p.Type, value, path); err != nil {
			return err
		}
		obj[prop] = value
		return nil
	}
	inner, _ := obj[prop].(map[string]any)
	if inner == nil {
		if p.Type.Type == "object" {
			return invalidPatch(path, msgInvalidPath)
		}
		inner = map[string]any{}
	}
	key := segs[1]
	switch p.Type.Type {
	case "map":
		if len(segs) != 2 {
			return invalidPatch(path, msgInvalidPath)
		}
		if p.Type.KeyClass != nil {
			if err := s.validateValue(*p.Type.KeyClass, key, path); err != nil {
				return err
			}
		}
		if value == nil {
			delete(inner, key)
		} else {
			if p.Type.ValueClass != nil {
				if err := s.validateValue(*p.Type.ValueClass, value, path); err != nil {
					return err
				}
			}
			inner[key] = value
		}
	case "set":
		if len(segs) != 2 {
			return invalidPatch(path, msgInvalidPath)
		}
		if p.Type.Class != nil {
			if err := s.validateValue(*p.Type.Class, key, path); err != nil {
				return err
			}
		}
		switch value {
		case true:
			inner[key] = true
		case false, nil:
			delete(inner, key)
		default:
			return invalidPatch(path, msgInvalidValue)
		}
	case "objectList":
		i, err := strconv.Atoi(key)
		if err != nil || i < 0 || i > len(inner) {
			return invalidPatch(path, msgInvalidPath)
		}
		if len(segs) == 2 {
			if value == nil {
				return invalidPatch(path, msgInvalidValue)
			}
			if err := s.validateObject(p.Type.ObjectName, value, path); err != nil {
				return err
			}
			inner[key] = value
			break
		}
		el, _ := inner[key].(map[string]any)
		if el == nil {
			return invalidPatch(path, msgInvalidPath)
		}
		efs, ok := s.fieldsOf(p.Type.ObjectName, el)
		if !ok {
			return invalidPatch(path, msgInvalidPath)
		}
		if err := s.applyPatch(el, efs, segs[2:], value, path); err != nil {
			return err
		}
	case "object":
		if segs[1] == "@type" {
			return invalidPatch(path, msgInvalidPath)
		}
		ifs, ok := s.fieldsOf(p.Type.ObjectName, inner)
		if !ok {
			return invalidPatch(path, msgInvalidPath)
		}
		if err := s.applyPatch(inner, ifs, segs[1:], value, path); err != nil {
			return err
		}
	default:
		return invalidPatch(path, msgInvalidPath)
	}
	obj[prop] = inner
	return nil
}

// splitPointer splits a PatchObject key into JSON pointer segments (RFC 6901 escapes).
func splitPointer(key string) []string {
	segs := strings.Split(strings.TrimPrefix(key, "/"), "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs
}

func joinPath(base, k string) string {
	if base == "" {
		return k
	}
	return base + "/" + k
}
