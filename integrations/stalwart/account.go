package stalwart

import (
	"context"
	"fmt"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// teamName is the local part of the tenant's group account (team@<domain>).
const teamName = "team"

// quotaKey is the StorageQuota entry holding the disk quota in bytes (account.md).
const quotaKey = "maxDiskQuota"

// accountProps are the Account properties the step reads.
var accountProps = []string{"id", "@type", "name", "domainId", "description", "quotas"}

// account is the part of a Stalwart Account the step looks at.
type account struct {
	ID          string           `json:"id"`
	Type        string           `json:"@type"`
	Name        string           `json:"name"`
	DomainID    string           `json:"domainId"`
	Description *string          `json:"description"`
	Quotas      map[string]int64 `json:"quotas"`
}

func (a *account) description() string {
	if a.Description == nil {
		return ""
	}
	return *a.Description
}

// teamQuery is the x:Account/query filter for team@<domain>. The name filter matches local
// parts textually, so domainId narrows it and the name is compared exactly afterwards.
func teamQuery(domainID string) map[string]any {
	return map[string]any{"name": teamName, "domainId": domainID}
}

func isTeam(domainID string) func(account) bool {
	return func(a account) bool { return a.Name == teamName && a.DomainID == domainID }
}

// findTeam looks up team@<domain> (of any account type).
func (c *Client) findTeam(ctx context.Context, domainID string) (*account, error) {
	return findObject(ctx, c, errFindAccount, typeAccount, teamQuery(domainID), accountProps, isTeam(domainID))
}

// getAccount reads one account by id; nil when it does not exist.
func (c *Client) getAccount(ctx context.Context, op, id string) (*account, error) {
	res, err := c.exec(ctx, op, []invocation{{name: accountGet, id: "a",
		args: map[string]any{"ids": []string{id}, "properties": accountProps}}})
	if err != nil {
		return nil, err
	}
	g, err := decode[getResult[account]](op, res, "a")
	if err != nil || len(g.List) == 0 {
		return nil, err
	}
	return &g.List[0], nil
}

// quotas is the desired quota map: the mail quota as maxDiskQuota, none when it is zero.
func (r *run) quotas() map[string]any {
	if r.d.MailQuotaBytes <= 0 {
		return map[string]any{}
	}
	return map[string]any{quotaKey: r.d.MailQuotaBytes}
}

// createTeam creates the Group account team@<domain> with the marker and the mail quota; a
// primaryKeyViolation adopts the returned objectId under the marker rule.
func (r *run) createTeam(ctx context.Context, dom *domain) (*account, error) {
	res, err := r.c.exec(ctx, errCreateAccount, []invocation{{name: accountSet, id: "c", args: map[string]any{
		"create": map[string]any{"t": map[string]any{
			"@type":       "Group",
			"name":        teamName,
			"domainId":    dom.ID,
			"description": r.marker,
			"roles":       map[string]any{"@type": "Default"},
			"permissions": map[string]any{"@type": "Inherit"},
			"quotas":      r.quotas(),
			"aliases":     map[string]any{},
		}},
	}}})
	if err != nil {
		return nil, err
	}
	set, err := decode[setResult](errCreateAccount, res, "c")
	if err != nil {
		return nil, err
	}
	if created, ok := set.Created["t"]; ok {
		r.note(integrations.ActionCreated)
		return &account{ID: created.ID, Type: "Group", Name: teamName, DomainID: dom.ID}, nil
	}
	se, ok := set.NotCreated["t"]
	if !ok {
		return nil, integrations.PermanentError(errCreateAccount, msgBadResponse)
	}
	if se.Type != "primaryKeyViolation" {
		return nil, se.toError(errCreateAccount)
	}
	var existing *account
	if id := se.objectID(); id != "" {
		existing, err = r.c.getAccount(ctx, errCreateAccount, id)
	} else {
		existing, err = r.c.findTeam(ctx, dom.ID)
	}
	if err != nil {
		return nil, err
	}
	if existing == nil {
		return nil, &integrations.Error{Kind: integrations.Retryable, Op: errCreateAccount, Message: se.message()}
	}
	return existing, r.correctTeam(ctx, dom, existing)
}

// correctTeam applies the marker rule to team@<domain> and corrects its disk quota. A User
// account holding the address, or another tenant's marker, is a conflict only a human resolves.
func (r *run) correctTeam(ctx context.Context, dom *domain, a *account) error {
	addr := teamName + "@" + dom.Name
	if a.Type != "Group" {
		return integrations.PermanentError(errUpdateAccount, fmt.Sprintf(msgAccountNotGroup, addr, a.Type))
	}
	patch := map[string]any{}
	owner, found := integrations.MarkerOwner(a.description())
	switch {
	case found && !strings.EqualFold(owner, r.d.TenantID):
		return integrations.PermanentError(errUpdateAccount, fmt.Sprintf(msgForeignAccount, addr))
	case !found:
		patch["description"] = withMarker(a.description(), r.marker)
	}
	have, ok := a.Quotas[quotaKey]
	switch want := r.d.MailQuotaBytes; {
	case want > 0 && (!ok || have != want):
		patch["quotas/"+quotaKey] = want
	case want <= 0 && ok:
		patch["quotas/"+quotaKey] = nil
	}
	if len(patch) == 0 {
		return nil
	}
	if err := r.c.update(ctx, errUpdateAccount, accountSet, a.ID, patch); err != nil {
		return err
	}
	if !found {
		r.note(integrations.ActionAdopted)
	} else {
		r.note(integrations.ActionUpdated)
	}
	return nil
}
