package authentik

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// Operation names, also the prefix of every error the step returns.
const (
	errGetGroup    = "cannot get authentik group"
	errListGroups  = "cannot list authentik groups"
	errCreateGroup = "cannot create authentik group"
	errUpdateGroup = "cannot update authentik group"
	errDeleteGroup = "cannot delete authentik group"
	errListUsers   = "cannot list authentik users"
	errAddMember   = "cannot add owner to authentik group"
	errAdoptGroup  = "cannot adopt authentik group"
	errDesired     = "invalid desired state for authentik"
)

// msgForeignGroup is shown to the tenant's owner: a group of the tenant's name belongs to
// another tenant.
const msgForeignGroup = "identity provider group %q belongs to another tenant; an operator must look"

// maxPages stops a pagination loop against a server that never reports the last page.
const maxPages = 1000

// group is the part of Authentik's Group schema the step reads.
type group struct {
	PK         string         `json:"pk"`
	Name       string         `json:"name"`
	Attributes map[string]any `json:"attributes"`
	// Users holds the member pks; nil when the server left the field out (it is declared but
	// not required), in which case membership is unknown and add_user is simply repeated.
	Users []int `json:"users"`
	// UsersObj is filled only when the request asked for include_users=true.
	UsersObj []member `json:"users_obj"`
}

// member is Authentik's PartialUser as listed in a group's users_obj.
type member struct {
	PK    int    `json:"pk"`
	Email string `json:"email"`
}

// user is the part of Authentik's User schema the step reads.
type user struct {
	PK       int    `json:"pk"`
	Username string `json:"username"`
	Email    string `json:"email"`
	IsActive bool   `json:"is_active"`
}

// pageInfo is Authentik's pagination object: next is a page number, 0 when there is none. The
// schema types the fields as number, hence float64.
type pageInfo struct {
	Next    float64 `json:"next"`
	Current float64 `json:"current"`
}

type groupPage struct {
	Pagination pageInfo `json:"pagination"`
	Results    []group  `json:"results"`
}

type userPage struct {
	Pagination pageInfo `json:"pagination"`
	Results    []user   `json:"results"`
}

func groupPath(pk string) string { return "/core/groups/" + url.PathEscape(pk) + "/" }

// getGroup reads one group by pk. includeUsers asks for users_obj (members with their emails),
// which lets a stable tenant's resync check the owner's membership without a user lookup.
func (c *Client) getGroup(ctx context.Context, pk string, includeUsers bool) (*group, error) {
	var g group
	err := c.do(ctx, request{
		op: errGetGroup, method: http.MethodGet, path: groupPath(pk),
		query: url.Values{"include_users": {strconv.FormatBool(includeUsers)}},
	}, &g)
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// groupByName lists groups filtered by name and returns the one named exactly name, or nil.
// The name filter is an exact match already; comparing again costs nothing and guards against
// a server that treats it as a search. Pages are followed while pagination.next is not 0.
func (c *Client) groupByName(ctx context.Context, name string) (*group, error) {
	q := url.Values{"name": {name}, "include_users": {"false"}}
	for page, n := 1, 0; n < maxPages; n++ {
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
		}
		var p groupPage
		if err := c.do(ctx, request{op: errListGroups, method: http.MethodGet, path: "/core/groups/", query: q}, &p); err != nil {
			return nil, err
		}
		for i := range p.Results {
			if p.Results[i].Name == name {
				return &p.Results[i], nil
			}
		}
		next := int(p.Pagination.Next)
		if next == 0 || next <= page {
			return nil, nil
		}
		page = next
	}
	return nil, nil
}

// createGroup creates a group with only the properties GroupRequest declares that we own.
func (c *Client) createGroup(ctx context.Context, name string, attrs map[string]any) (*group, error) {
	var g group
	err := c.do(ctx, request{
		op: errCreateGroup, method: http.MethodPost, path: "/core/groups/",
		body: map[string]any{"name": name, "attributes": attrs},
	}, &g)
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// patchGroup sends a partial update (PatchedGroupRequest) holding only the fields that differ.
func (c *Client) patchGroup(ctx context.Context, pk string, patch map[string]any) (*group, error) {
	var g group
	if err := c.do(ctx, request{op: errUpdateGroup, method: http.MethodPatch, path: groupPath(pk), body: patch}, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// deleteGroup deletes a group; a group already gone is success.
func (c *Client) deleteGroup(ctx context.Context, pk string) error {
	err := c.do(ctx, request{op: errDeleteGroup, method: http.MethodDelete, path: groupPath(pk)}, nil)
	if integrations.IsNotFound(err) {
		return nil
	}
	return err
}

// usersByEmail lists the users whose email is exactly email (Authentik does not make emails
// unique, so there may be several). Groups and roles are not needed, so they are not expanded.
func (c *Client) usersByEmail(ctx context.Context, email string) ([]user, error) {
	q := url.Values{"email": {email}, "include_groups": {"false"}, "include_roles": {"false"}}
	var out []user
	for page, n := 1, 0; n < maxPages; n++ {
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
		}
		var p userPage
		if err := c.do(ctx, request{op: errListUsers, method: http.MethodGet, path: "/core/users/", query: q}, &p); err != nil {
			return nil, err
		}
		for _, u := range p.Results {
			if strings.EqualFold(u.Email, email) {
				out = append(out, u)
			}
		}
		next := int(p.Pagination.Next)
		if next == 0 || next <= page {
			break
		}
		page = next
	}
	return out, nil
}

// addMember adds a user to a group; Authentik's add_user is a set-add, so repeating it is
// harmless. A 404 means the group or the user vanished in between.
func (c *Client) addMember(ctx context.Context, groupPK string, userPK int) error {
	return c.do(ctx, request{
		op: errAddMember, method: http.MethodPost, path: groupPath(groupPK) + "add_user/",
		body: map[string]int{"pk": userPK},
	}, nil)
}
