package stalwart

import (
	"context"
	"fmt"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// JMAP method names (urn:stalwart:jmap registry objects).
const (
	domainGet    = "x:Domain/get"
	domainSet    = "x:Domain/set"
	domainQuery  = "x:Domain/query"
	accountGet   = "x:Account/get"
	accountSet   = "x:Account/set"
	accountQuery = "x:Account/query"
	dkimQuery    = "x:DkimSignature/query"
	dkimSet      = "x:DkimSignature/set"
	typeDomain   = "x:Domain"
	typeAccount  = "x:Account"
)

// domainProps are the Domain properties the step reads (domain.md).
var domainProps = []string{"id", "name", "description", "isEnabled"}

// domain is the part of a Stalwart Domain the step looks at.
type domain struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	// IsEnabled defaults to true when absent (schema default).
	IsEnabled *bool `json:"isEnabled"`
}

func (d *domain) description() string {
	if d.Description == nil {
		return ""
	}
	return *d.Description
}

func (d *domain) enabled() bool { return d.IsEnabled == nil || *d.IsEnabled }

// normalizeDomain is how Stalwart stores a domain name: trimmed and lowercased.
func normalizeDomain(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// getDomain reads one domain by id; nil when it does not exist.
func (c *Client) getDomain(ctx context.Context, op, id string) (*domain, error) {
	res, err := c.exec(ctx, op, []invocation{{name: domainGet, id: "d",
		args: map[string]any{"ids": []string{id}, "properties": domainProps}}})
	if err != nil {
		return nil, err
	}
	g, err := decode[getResult[domain]](op, res, "d")
	if err != nil || len(g.List) == 0 {
		return nil, err
	}
	return &g.List[0], nil
}

// findDomain looks a domain up by name. x:Domain/query's name filter is a text match, so the
// exact name is compared on the objects it returns.
func (c *Client) findDomain(ctx context.Context, name string) (*domain, error) {
	return findObject(ctx, c, errFindDomain, typeDomain, map[string]any{"name": name}, domainProps,
		func(d domain) bool { return d.Name == name })
}

// createDomain creates the tenant's domain with the marker. A primaryKeyViolation (the domain
// exists: our own create whose response was lost, or someone else's) is answered by adopting the
// returned objectId under the marker rule instead of failing.
func (r *run) createDomain(ctx context.Context) (*domain, error) {
	enabled := !r.d.Suspended
	res, err := r.c.exec(ctx, errCreateDomain, []invocation{{name: domainSet, id: "c", args: map[string]any{
		"create": map[string]any{"d": map[string]any{
			"name":                  r.name,
			"description":           r.marker,
			"isEnabled":             enabled,
			"aliases":               map[string]any{},
			"certificateManagement": map[string]any{"@type": "Manual"},
			"dkimManagement":        map[string]any{"@type": "Automatic"},
			"dnsManagement":         map[string]any{"@type": "Manual"},
			"subAddressing":         map[string]any{"@type": "Enabled"},
		}},
	}}})
	if err != nil {
		return nil, err
	}
	set, err := decode[setResult](errCreateDomain, res, "c")
	if err != nil {
		return nil, err
	}
	if created, ok := set.Created["d"]; ok {
		r.note(integrations.ActionCreated)
		return &domain{ID: created.ID, Name: r.name, Description: &r.marker, IsEnabled: &enabled}, nil
	}
	se, ok := set.NotCreated["d"]
	if !ok {
		return nil, integrations.PermanentError(errCreateDomain, msgBadResponse)
	}
	if se.Type != "primaryKeyViolation" {
		return nil, se.toError(errCreateDomain)
	}
	var existing *domain
	if id := se.objectID(); id != "" {
		existing, err = r.c.getDomain(ctx, errCreateDomain, id)
	} else {
		existing, err = r.c.findDomain(ctx, r.name)
	}
	if err != nil {
		return nil, err
	}
	if existing == nil {
		// Deleted between our create and our read: let the next attempt create it.
		return nil, &integrations.Error{Kind: integrations.Retryable, Op: errCreateDomain, Message: se.message()}
	}
	if existing.Name != r.name {
		return nil, integrations.PermanentError(errCreateDomain, fmt.Sprintf(msgAliasTaken, r.name, existing.Name))
	}
	return existing, r.correctDomain(ctx, existing)
}

// correctDomain applies the marker rule to an existing domain and corrects what differs:
// another tenant's marker stops everything; no marker means adoption (the marker is appended to
// the description); isEnabled follows the tenant's suspension.
func (r *run) correctDomain(ctx context.Context, dom *domain) error {
	patch := map[string]any{}
	owner, found := integrations.MarkerOwner(dom.description())
	switch {
	case found && !strings.EqualFold(owner, r.d.TenantID):
		return integrations.PermanentError(errUpdateDomain, fmt.Sprintf(msgForeignDomain, dom.Name))
	case !found:
		patch["description"] = withMarker(dom.description(), r.marker)
	}
	if want := !r.d.Suspended; dom.enabled() != want {
		patch["isEnabled"] = want
	}
	if len(patch) == 0 {
		return nil
	}
	if err := r.c.update(ctx, errUpdateDomain, domainSet, dom.ID, patch); err != nil {
		return err
	}
	if !found {
		r.note(integrations.ActionAdopted)
	} else {
		r.note(integrations.ActionUpdated)
	}
	return nil
}

// withMarker keeps an adopted object's description and appends the marker.
func withMarker(desc, marker string) string {
	if strings.TrimSpace(desc) == "" {
		return marker
	}
	return strings.TrimSpace(desc) + " " + marker
}

// update applies one PatchObject to id with method (x:Domain/set or x:Account/set).
func (c *Client) update(ctx context.Context, op, method, id string, patch map[string]any) error {
	res, err := c.exec(ctx, op, []invocation{{name: method, id: "u",
		args: map[string]any{"update": map[string]any{id: patch}}}})
	if err != nil {
		return err
	}
	set, err := decode[setResult](op, res, "u")
	if err != nil {
		return err
	}
	if se, ok := set.NotUpdated[id]; ok {
		if se.Type == "notFound" {
			// Gone between our read and our write: the next attempt recreates it.
			return &integrations.Error{Kind: integrations.Retryable, Op: op, Message: fmt.Sprintf(msgVanished, id)}
		}
		return se.toError(op)
	}
	if _, ok := set.Updated[id]; !ok {
		return integrations.PermanentError(op, msgBadResponse)
	}
	return nil
}
