package authentik

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// ensureOwner makes the tenant's owner a member of g. When g came with users_obj (the resync
// path, found by recorded pk) and lists the owner's email, nothing else is called. Otherwise
// the owner is looked up by exact email and added unless g's member pks already hold it.
// An owner without an Authentik account, or an email shared by several active accounts, is
// reported in the message and left for the next resync rather than failing the step: the
// group itself is fine, and guessing which account is the owner could let a stranger in.
func (c *Client) ensureOwner(ctx context.Context, d integrations.Desired, g *group) (msg string, added bool, err error) {
	email := strings.TrimSpace(d.OwnerEmail)
	if email == "" {
		return "", false, nil
	}
	for _, m := range g.UsersObj {
		if strings.EqualFold(m.Email, email) {
			return "", false, nil
		}
	}
	users, err := c.usersByEmail(ctx, email)
	if err != nil {
		return "", false, err
	}
	u, msg := pickOwner(users, email)
	if u == nil {
		return msg, false, nil
	}
	if slices.Contains(g.Users, u.PK) {
		return "", false, nil
	}
	if err := c.addMember(ctx, g.PK, u.PK); err != nil {
		if integrations.IsNotFound(err) {
			// The user (or the group) vanished since the lookup; the next resync sees it.
			return notFoundMessage(email), false, nil
		}
		return "", false, err
	}
	return "", true, nil
}

// pickOwner chooses the owner's account among the users with the owner's email: the only one,
// else the only active one.
func pickOwner(users []user, email string) (*user, string) {
	switch len(users) {
	case 0:
		return nil, notFoundMessage(email)
	case 1:
		return &users[0], ""
	}
	var active []*user
	for i := range users {
		if users[i].IsActive {
			active = append(active, &users[i])
		}
	}
	if len(active) == 1 {
		return active[0], ""
	}
	return nil, fmt.Sprintf("%d authentik users have the email %s; owner not added to the group", len(users), email)
}

func notFoundMessage(email string) string {
	return fmt.Sprintf("owner %s not found in authentik; membership is retried on the next resync", email)
}
