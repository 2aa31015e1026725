package stalwartsim

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// Domain is a test's view of a stored domain.
type Domain struct {
	ID          string
	Name        string
	Description string
	IsEnabled   bool
}

// Account is a test's view of a stored account.
type Account struct {
	ID          string
	Type        string // "User" or "Group"
	Name        string // local part
	DomainID    string
	Description string
	// MaxDiskQuota is quotas.maxDiskQuota; HasDiskQuota is false when the account has none.
	MaxDiskQuota int64
	HasDiskQuota bool
}

// Errors of the out-of-band mutators.
var (
	ErrNotFound = errors.New("stalwartsim: no such object")
	ErrInvalid  = errors.New("stalwartsim: invalid object")
)

func toDomain(o *object) Domain {
	enabled, ok := o.props["isEnabled"].(bool)
	return Domain{ID: o.id, Name: str(o.props, "name"), Description: str(o.props, "description"),
		IsEnabled: enabled || !ok}
}

func toAccount(o *object) Account {
	a := Account{ID: o.id, Type: str(o.props, "@type"), Name: str(o.props, "name"),
		DomainID: str(o.props, "domainId"), Description: str(o.props, "description")}
	if q, ok := o.props["quotas"].(map[string]any); ok {
		a.MaxDiskQuota, a.HasDiskQuota = number(q, "maxDiskQuota")
	}
	return a
}

// Domains returns every domain in creation order.
func (s *Server) Domains() []Domain {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Domain
	for _, o := range s.reg.sorted(typeDomain) {
		out = append(out, toDomain(o))
	}
	return out
}

// Accounts returns every account (users and groups) in creation order.
func (s *Server) Accounts() []Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Account
	for _, o := range s.reg.sorted(typeAccount) {
		out = append(out, toAccount(o))
	}
	return out
}

// DomainCount, AccountCount and DkimSignatureCount count stored objects.
func (s *Server) DomainCount() int { return s.count(typeDomain) }

// AccountCount counts accounts of both types.
func (s *Server) AccountCount() int { return s.count(typeAccount) }

// DkimSignatureCount counts the DKIM signatures generated for automatically managed domains.
func (s *Server) DkimSignatureCount() int { return s.count(typeDkim) }

func (s *Server) count(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reg.objects[typ])
}

func (s *Server) domainByName(name string) *object {
	n, _ := normalizeDomain(name)
	for _, o := range s.reg.sorted(typeDomain) {
		if str(o.props, "name") == n {
			return o
		}
	}
	return nil
}

// DomainByName returns the domain with exactly that name.
func (s *Server) DomainByName(name string) (Domain, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.domainByName(name)
	if o == nil {
		return Domain{}, false
	}
	return toDomain(o), true
}

// CreateDomainOutOfBand stores a domain as an administrator would through the web UI (manual
// certificates, DKIM and DNS), e.g. one carrying another tenant's marker in description. It
// returns the new id; a taken name is ErrInvalid.
func (s *Server) CreateDomainOutOfBand(name, description string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	props := map[string]any{
		"name": name, "aliases": map[string]any{}, "isEnabled": true,
		"certificateManagement": map[string]any{"@type": "Manual"},
		"dkimManagement":        map[string]any{"@type": "Manual"},
		"dnsManagement":         map[string]any{"@type": "Manual"},
		"subAddressing":         map[string]any{"@type": "Enabled"},
		"createdAt":             s.now().UTC().Format(time.RFC3339),
	}
	if description != "" {
		props["description"] = description
	}
	if err := s.finishDomain("", props); err != nil {
		return "", ErrInvalid
	}
	return s.reg.insert(typeDomain, props).id, nil
}

// CreateAccountOutOfBand stores an account of typ ("User" or "Group") named local@domain, with a
// disk quota when quota > 0 (seed users, or a foreign "team" group).
func (s *Server) CreateAccountOutOfBand(typ, domain, local, description string, quota int64) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domainByName(domain)
	if d == nil {
		return "", ErrNotFound
	}
	props := map[string]any{
		"@type": typ, "name": local, "domainId": d.id, "aliases": map[string]any{},
		"roles":       map[string]any{"@type": "Default"},
		"permissions": map[string]any{"@type": "Inherit"},
		"quotas":      map[string]any{},
		"createdAt":   s.now().UTC().Format(time.RFC3339),
	}
	switch typ {
	case "User":
		props["roles"] = map[string]any{"@type": "User"}
		props["encryptionAtRest"] = map[string]any{"@type": "Disabled"}
		props["credentials"] = map[string]any{}
		props["memberGroupIds"] = map[string]any{}
	case "Group":
	default:
		return "", ErrInvalid
	}
	if quota > 0 {
		props["quotas"] = map[string]any{"maxDiskQuota": json.Number(strconv.FormatInt(quota, 10))}
	}
	if description != "" {
		props["description"] = description
	}
	if err := s.finishAccount("", props); err != nil {
		return "", ErrInvalid
	}
	props["usedDiskQuota"] = json.Number("0")
	return s.reg.insert(typeAccount, props).id, nil
}

// DeleteDomain removes a domain out of band together with its accounts and DKIM signatures (an
// operator cleaning up by hand). It reports whether the domain existed.
func (s *Server) DeleteDomain(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.domainByName(name)
	if d == nil {
		return false
	}
	for _, typ := range []string{typeAccount, typeDkim} {
		for _, o := range s.reg.sorted(typ) {
			if str(o.props, "domainId") == d.id {
				s.reg.remove(typ, o.id)
			}
		}
	}
	s.reg.remove(typeDomain, d.id)
	return true
}

// DeleteAccount removes the account local@domain out of band.
func (s *Server) DeleteAccount(domain, local string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.account(domain, local)
	if o == nil {
		return false
	}
	s.reg.remove(typeAccount, o.id)
	return true
}

func (s *Server) account(domain, local string) *object {
	d := s.domainByName(domain)
	if d == nil {
		return nil
	}
	for _, o := range s.reg.sorted(typeAccount) {
		if str(o.props, "domainId") == d.id && str(o.props, "name") == local {
			return o
		}
	}
	return nil
}

// SetAccountQuota changes quotas.maxDiskQuota of local@domain out of band (drift).
func (s *Server) SetAccountQuota(domain, local string, bytes int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.account(domain, local)
	if o == nil {
		return ErrNotFound
	}
	q, _ := o.props["quotas"].(map[string]any)
	if q == nil {
		q = map[string]any{}
	}
	q["maxDiskQuota"] = json.Number(strconv.FormatInt(bytes, 10))
	o.props["quotas"] = q
	s.reg.touch(typeAccount)
	return nil
}

// SetAccountDescription replaces the description of local@domain out of band.
func (s *Server) SetAccountDescription(domain, local, description string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.account(domain, local)
	if o == nil {
		return ErrNotFound
	}
	o.props["description"] = description
	s.reg.touch(typeAccount)
	return nil
}

// SetDomainEnabled changes isEnabled of a domain out of band.
func (s *Server) SetDomainEnabled(name string, enabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.domainByName(name)
	if o == nil {
		return ErrNotFound
	}
	o.props["isEnabled"] = enabled
	s.reg.touch(typeDomain)
	return nil
}

// SetDomainDescription replaces the description of a domain out of band (e.g. to remove or
// forge a marker).
func (s *Server) SetDomainDescription(name, description string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.domainByName(name)
	if o == nil {
		return ErrNotFound
	}
	o.props["description"] = description
	s.reg.touch(typeDomain)
	return nil
}

// SetDomainAliases replaces the aliases of a domain out of band; an alias taken by another domain
// or an invalid name is ErrInvalid.
func (s *Server) SetDomainAliases(name string, aliases ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.domainByName(name)
	if o == nil {
		return ErrNotFound
	}
	props := deepCopy(o.props).(map[string]any)
	set := map[string]any{}
	for _, a := range aliases {
		set[a] = true
	}
	props["aliases"] = set
	if err := s.finishDomain(o.id, props); err != nil {
		return ErrInvalid
	}
	o.props = props
	s.reg.touch(typeDomain)
	return nil
}

// InjectMethodError makes the next n calls of method (e.g. "x:Domain/set"; empty: any method)
// answer the method-level error errType (e.g. "serverFail") inside HTTP 200, without running.
func (s *Server) InjectMethodError(method, errType string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.methodFaults = append(s.methodFaults, methodFault{method: method, errType: errType, left: n})
}

// InjectServerFail makes the next n method calls answer serverFail.
func (s *Server) InjectServerFail(n int) { s.InjectMethodError("", "serverFail", n) }

// BumpSessionState changes the session state, as Stalwart does when the token's account or
// permissions change; clients should refetch the session.
func (s *Server) BumpSessionState() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessionState++
}
