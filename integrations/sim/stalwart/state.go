package stalwartsim

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Object types the simulator stores, named as Stalwart's ObjectType serialises them (the
// "object" of an objectId or linkedObjects entry).
const (
	typeDomain  = "Domain"
	typeAccount = "Account"
	typeDkim    = "DkimSignature"
)

// Schema names of the stored types.
var schemaOf = map[string]string{
	typeDomain:  "x:Domain",
	typeAccount: "x:Account",
}

// object is one registry object. props holds the client-visible properties as decoded JSON
// (numbers as json.Number), server-set ones included.
type object struct {
	id    string
	seq   uint64
	props map[string]any
}

// objectRef is Stalwart's serialised ObjectId: the object type and its id.
type objectRef struct {
	Object string `json:"object"`
	ID     string `json:"id"`
}

// validationError is one entry of a validationFailed SetError (serde tag "type").
type validationError struct {
	Type     string `json:"type"`
	Property string `json:"property"`
}

// setError is an RFC 8620 SetError with Stalwart's registry extensions.
type setError struct {
	Type             string            `json:"type"`
	Description      string            `json:"description,omitempty"`
	Properties       []string          `json:"properties,omitempty"`
	ObjectID         *objectRef        `json:"objectId,omitempty"`
	LinkedObjects    []objectRef       `json:"linkedObjects,omitempty"`
	ValidationErrors []validationError `json:"validationErrors,omitempty"`
}

// registry holds the objects of every type, each type with its own sequential id space (as
// Stalwart's OBJ_SEQ_ID objects): a Domain and an Account may share an id string, so a client that
// mixes them up is caught.
type registry struct {
	next    map[string]uint64
	objects map[string]map[string]*object
	state   map[string]uint64
}

// Id offsets per type, so the id spaces overlap only partly and ids look like Stalwart's.
var idOffset = map[string]uint64{typeDomain: 3, typeAccount: 1, typeDkim: 7}

func newRegistry() registry {
	return registry{
		next:    map[string]uint64{},
		objects: map[string]map[string]*object{typeDomain: {}, typeAccount: {}, typeDkim: {}},
		state:   map[string]uint64{},
	}
}

func (r *registry) insert(typ string, props map[string]any) *object {
	n := r.next[typ] + idOffset[typ]
	r.next[typ]++
	o := &object{id: encodeID(n), seq: n, props: props}
	r.objects[typ][o.id] = o
	r.state[typ]++
	return o
}

func (r *registry) remove(typ, id string) {
	delete(r.objects[typ], id)
	r.state[typ]++
}

func (r *registry) touch(typ string) { r.state[typ]++ }

func (r *registry) stateOf(typ string) string { return strconv.FormatUint(r.state[typ], 10) }

// sorted returns the objects of typ in creation order (Stalwart's default query order is by id).
func (r *registry) sorted(typ string) []*object {
	out := slices.Collect(maps.Values(r.objects[typ]))
	slices.SortFunc(out, func(a, b *object) int { return int(a.seq) - int(b.seq) })
	return out
}

// idAlphabet is Stalwart's base32 alphabet for JMAP ids (crates/utils base32_custom).
const idAlphabet = "abcdefghijklmnopqrstuvwxyz792013"

// encodeID renders n the way Stalwart's Id::as_string does for small ids: 0 is "a", then base
// 32 digits most significant first.
func encodeID(n uint64) string {
	if n == 0 {
		return "a"
	}
	var b []byte
	for n > 0 {
		b = append(b, idAlphabet[n%32])
		n /= 32
	}
	slices.Reverse(b)
	return string(b)
}

func str(props map[string]any, k string) string {
	s, _ := props[k].(string)
	return s
}

func number(props map[string]any, k string) (int64, bool) {
	n, ok := props[k].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil
}

// domainLabel is one DNS label; Stalwart's StringValidator::Domain accepts host names with a
// dot-separated alphabetic top-level label.
var domainLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// normalizeDomain lowercases and checks a domain name; ok is false for an invalid one.
func normalizeDomain(name string) (string, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	labels := strings.Split(n, ".")
	if len(n) > 253 || len(labels) < 2 {
		return "", false
	}
	for _, l := range labels {
		if !domainLabel.MatchString(l) {
			return "", false
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 || strings.ContainsAny(tld, "0123456789-") {
		return "", false
	}
	return n, true
}

// localPart is what Stalwart's StringValidator::EmailLocalPart accepts after it strips spaces
// and lowercases.
var localPart = regexp.MustCompile(`^[a-z0-9!#$%&'*+/=?^_{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_{|}~-]+)*$`)

func normalizeLocalPart(name string) (string, bool) {
	n := strings.ToLower(strings.ReplaceAll(name, " ", ""))
	if len(n) == 0 || len(n) > 64 || !localPart.MatchString(n) {
		return "", false
	}
	return n, true
}

// Required properties per concrete schema, from the reference pages (domain.md, account.md):
// the schema file itself does not mark them.
var requiredProps = map[string][]string{
	"x:Domain":       {"name", "certificateManagement", "dkimManagement", "dnsManagement", "subAddressing"},
	"x:GroupAccount": {"name", "domainId", "roles", "permissions"},
	"x:UserAccount":  {"name", "domainId", "roles", "permissions", "encryptionAtRest"},
}

// concreteSchema names the field set an object of typ uses.
func concreteSchema(typ string, props map[string]any) string {
	if typ == typeDomain {
		return "x:Domain"
	}
	if str(props, "@type") == "Group" {
		return "x:GroupAccount"
	}
	return "x:UserAccount"
}

// checkRequired returns a validationFailed SetError naming the missing required properties.
func checkRequired(schemaName string, props map[string]any) *setError {
	var missing []validationError
	for _, p := range requiredProps[schemaName] {
		if v, ok := props[p]; !ok || v == nil || v == "" {
			missing = append(missing, validationError{Type: "Required", Property: p})
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &setError{Type: "validationFailed", ValidationErrors: missing}
}

// finishDomain normalises a domain's names and checks them, and its uniqueness: name and aliases
// are unique across every domain (Stalwart indexes both as unique keys).
func (s *Server) finishDomain(id string, props map[string]any) *setError {
	name, ok := normalizeDomain(str(props, "name"))
	if !ok {
		return &setError{Type: "invalidPatch", Description: "Invalid domain name", Properties: []string{"name"}}
	}
	props["name"] = name
	names := []string{name}
	if aliases, ok := props["aliases"].(map[string]any); ok {
		norm := map[string]any{}
		for a := range aliases {
			n, ok := normalizeDomain(a)
			if !ok {
				return &setError{Type: "invalidPatch", Description: "Invalid domain name", Properties: []string{"aliases/" + a}}
			}
			norm[n] = true
			names = append(names, n)
		}
		props["aliases"] = norm
	}
	for _, o := range s.reg.sorted(typeDomain) {
		if o.id == id {
			continue
		}
		taken := []string{str(o.props, "name")}
		if aliases, ok := o.props["aliases"].(map[string]any); ok {
			taken = append(taken, slices.Collect(maps.Keys(aliases))...)
		}
		for i, n := range names {
			if slices.Contains(taken, n) {
				prop := "name"
				if i > 0 {
					prop = "aliases"
				}
				return &setError{Type: "primaryKeyViolation", Properties: []string{prop},
					ObjectID: &objectRef{Object: typeDomain, ID: o.id}}
			}
		}
	}
	return nil
}

// finishAccount normalises the local part, checks the domain exists and that the address
// name@domain is not taken by another account (users and groups share one namespace), then sets
// the server-set emailAddress.
func (s *Server) finishAccount(id string, props map[string]any) *setError {
	name, ok := normalizeLocalPart(str(props, "name"))
	if !ok {
		return &setError{Type: "invalidPatch", Description: "Invalid email local part", Properties: []string{"name"}}
	}
	props["name"] = name
	domainID := str(props, "domainId")
	dom, ok := s.reg.objects[typeDomain][domainID]
	if !ok {
		return &setError{Type: "invalidForeignKey", ObjectID: &objectRef{Object: typeDomain, ID: domainID}}
	}
	for _, o := range s.reg.sorted(typeAccount) {
		if o.id != id && str(o.props, "name") == name && str(o.props, "domainId") == domainID {
			return &setError{Type: "primaryKeyViolation", Properties: []string{"name"},
				ObjectID: &objectRef{Object: typeAccount, ID: o.id}}
		}
	}
	if groups, ok := props["memberGroupIds"].(map[string]any); ok {
		for g := range groups {
			if o, ok := s.reg.objects[typeAccount][g]; !ok || str(o.props, "@type") != "Group" || g == id {
				return &setError{Type: "invalidForeignKey", ObjectID: &objectRef{Object: typeAccount, ID: g}}
			}
		}
	}
	props["emailAddress"] = name + "@" + str(dom.props, "name")
	return nil
}

// linkedTo lists the objects whose foreign keys point at (typ, id): accounts and DKIM
// signatures of a domain, users that are members of a group.
func (s *Server) linkedTo(typ, id string) []objectRef {
	var out []objectRef
	switch typ {
	case typeDomain:
		for _, o := range s.reg.sorted(typeAccount) {
			if str(o.props, "domainId") == id {
				out = append(out, objectRef{Object: typeAccount, ID: o.id})
			}
		}
		for _, o := range s.reg.sorted(typeDkim) {
			if str(o.props, "domainId") == id {
				out = append(out, objectRef{Object: typeDkim, ID: o.id})
			}
		}
	case typeAccount:
		for _, o := range s.reg.sorted(typeAccount) {
			if groups, ok := o.props["memberGroupIds"].(map[string]any); ok && groups[id] == true {
				out = append(out, objectRef{Object: typeAccount, ID: o.id})
			}
		}
	}
	return out
}

// generateDkim stands in for the DkimManagement task Stalwart schedules when a domain is created
// with automatic DKIM: one signature per configured algorithm (default Ed25519 and RSA), each a
// DkimSignature object linked to the domain. The simulator runs the task at once.
func (s *Server) generateDkim(domainID string, props map[string]any) {
	dkim, _ := props["dkimManagement"].(map[string]any)
	if str(dkim, "@type") != "Automatic" {
		return
	}
	algs := []string{"Dkim1Ed25519Sha256", "Dkim1RsaSha256"}
	if set, ok := dkim["algorithms"].(map[string]any); ok && len(set) > 0 {
		algs = slices.Sorted(maps.Keys(set))
	}
	date := s.now().UTC().Format("20060102")
	for _, alg := range algs {
		short := "rsa"
		if strings.Contains(alg, "Ed25519") {
			short = "ed25519"
		}
		s.reg.insert(typeDkim, map[string]any{
			"@type":     alg,
			"domainId":  domainID,
			"selector":  "v1-" + short + "-" + date,
			"stage":     "active",
			"createdAt": s.now().UTC().Format(time.RFC3339),
		})
	}
}

// deepCopy copies decoded JSON so a failed patch leaves the stored object untouched.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	default:
		return v
	}
}
