package stalwart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/dezky/platform-api/integrations"
)

// Operations, used as the Op of every error this package returns.
const (
	errSession       = "cannot get stalwart jmap session"
	errGetDomain     = "cannot get stalwart domain"
	errFindDomain    = "cannot find stalwart domain"
	errCreateDomain  = "cannot create stalwart domain"
	errUpdateDomain  = "cannot update stalwart domain"
	errDeleteDomain  = "cannot delete stalwart domain"
	errFindAccount   = "cannot find stalwart team account"
	errCreateAccount = "cannot create stalwart team account"
	errUpdateAccount = "cannot update stalwart team account"
	errDeleteAccount = "cannot delete stalwart team account"
	errDeleteDkim    = "cannot delete stalwart dkim signatures"
)

// Messages. The ones that reach a tenant's owner (step messages, ConflictError) name only the
// tenant's own domain and addresses; the others are for operators (logs, events).
const (
	msgForeignDomain   = "mail domain %s belongs to another tenant; an operator must look"
	msgForeignAccount  = "mail account %s belongs to another tenant; an operator must look"
	msgAccountNotGroup = "the address %s is taken by a %s account; an operator must look"
	msgAliasTaken      = "the mail domain name %s is taken by another domain's alias; an operator must look"
	msgVanished        = "object %s disappeared during the update"
	msgLinked          = "domain %s is still linked to %s"
	msgNoMailDomain    = "no mail domain"
	msgSuspended       = "mail domain disabled (tenant suspended)"
	msgOldDomain       = "the previous mail domain %s is not ours; left in place"
	msgOldRemoved      = "the previous mail domain %s was removed"
	msgOldLeft         = "the previous mail domain %s still holds mailboxes; left in place"
	msgBadResponse     = "unexpected jmap response"
)

// invocation is one JMAP method call (RFC 8620 §3.2).
type invocation struct {
	name string
	args map[string]any
	id   string
}

// ref builds a ResultReference (RFC 8620 §3.7) to the result of an earlier call.
func ref(callID, method, path string) map[string]any {
	return map[string]any{"resultOf": callID, "name": method, "path": path}
}

// responses maps call ids to the arguments of their responses.
type responses map[string]json.RawMessage

// exec runs calls in order and returns their responses. When the session's maxCallsInRequest is
// smaller than len(calls) it sends several requests and resolves the result references that
// cross a request boundary itself. A method-level error (which Stalwart answers inside HTTP 200)
// stops the run and is returned classified.
func (c *Client) exec(ctx context.Context, op string, calls []invocation) (responses, error) {
	s, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	out := responses{}
	retried := false
	for start := 0; start < len(calls); {
		end := min(len(calls), start+s.maxCalls)
		chunk, err := prepare(calls[start:end], s, out)
		if err != nil {
			return nil, &integrations.Error{Kind: integrations.Retryable, Op: op, Message: msgBadResponse, Err: err}
		}
		got, state, err := c.post(ctx, op, s, chunk)
		if err != nil {
			var e *integrations.Error
			if errors.As(err, &e) && e.Status == http.StatusNotFound && !retried {
				// The API moved or the session is stale: nothing ran, so refetch the session
				// once and resend.
				c.dropSession(s)
				retried = true
				if s, err = c.session(ctx); err != nil {
					return nil, err
				}
				continue
			}
			if errors.As(err, &e) && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden ||
				e.Status == http.StatusNotFound) {
				c.dropSession(s)
			}
			return nil, err
		}
		if state != s.state {
			// The server's view of our session changed (permissions, accounts): refetch
			// before the next request.
			c.dropSession(s)
		}
		for _, r := range got {
			if r.name == "error" {
				return nil, methodError(op, r.args)
			}
			out[r.id] = r.args
		}
		start = end
	}
	return out, nil
}

// prepare copies a chunk of calls for s: adds the session's accountId and replaces references to
// calls answered in an earlier request by their values.
func prepare(calls []invocation, s *session, done responses) ([]invocation, error) {
	inChunk := map[string]bool{}
	for _, call := range calls {
		inChunk[call.id] = true
	}
	out := make([]invocation, len(calls))
	for i, call := range calls {
		args := make(map[string]any, len(call.args)+1)
		for k, v := range call.args {
			r, isRef := v.(map[string]any)
			if !strings.HasPrefix(k, "#") || !isRef || inChunk[r["resultOf"].(string)] {
				args[k] = v
				continue
			}
			raw, ok := done[r["resultOf"].(string)]
			if !ok {
				return nil, fmt.Errorf("reference to unknown call %v", r["resultOf"])
			}
			val, err := pointer(raw, r["path"].(string))
			if err != nil {
				return nil, err
			}
			args[k[1:]] = val
		}
		if s.accountID != "" {
			args["accountId"] = s.accountID
		}
		out[i] = invocation{name: call.name, args: args, id: call.id}
	}
	return out, nil
}

// pointer evaluates a JSON pointer of object keys (the only kind the client uses, e.g. "/ids").
func pointer(raw json.RawMessage, path string) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	for seg := range strings.SplitSeq(strings.TrimPrefix(path, "/"), "/") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("path %s not found", path)
		}
		if v, ok = m[seg]; !ok {
			return nil, fmt.Errorf("path %s not found", path)
		}
	}
	return v, nil
}

// methodResponse is one entry of methodResponses.
type methodResponse struct {
	name string
	args json.RawMessage
	id   string
}

// post sends one JMAP request to the session's apiUrl and returns its method responses and the
// server's sessionState.
func (c *Client) post(ctx context.Context, op string, s *session, calls []invocation) ([]methodResponse, string, error) {
	mc := make([][]any, len(calls))
	for i, call := range calls {
		mc[i] = []any{call.name, call.args, call.id}
	}
	body, err := json.Marshal(map[string]any{"using": []string{capCore, capStalwart}, "methodCalls": mc})
	if err != nil {
		return nil, "", integrations.PermanentError(op, err.Error())
	}
	resp, data, err := c.send(ctx, op, http.MethodPost, s.apiURL, body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", statusError(op, resp, data)
	}
	var env struct {
		MethodResponses [][]json.RawMessage `json:"methodResponses"`
		SessionState    string              `json:"sessionState"`
	}
	bad := func(err error) error {
		return &integrations.Error{Kind: integrations.Retryable, Op: op, Status: resp.StatusCode, Message: msgBadResponse, Err: err}
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, "", bad(err)
	}
	out := make([]methodResponse, 0, len(env.MethodResponses))
	for _, r := range env.MethodResponses {
		var name, id string
		if len(r) != 3 || json.Unmarshal(r[0], &name) != nil || json.Unmarshal(r[2], &id) != nil {
			return nil, "", bad(errors.New("malformed method response"))
		}
		out = append(out, methodResponse{name: name, args: r[1], id: id})
	}
	return out, env.SessionState, nil
}

// methodError classifies a method-level error (RFC 8620 §3.6.2): the server-side failures are
// worth a retry, everything else (invalidArguments, forbidden, unknownMethod, ...) waits for a
// change.
func methodError(op string, raw json.RawMessage) error {
	var e struct {
		Type        string `json:"type"`
		Description string `json:"description"`
	}
	_ = json.Unmarshal(raw, &e)
	kind := integrations.Permanent
	switch e.Type {
	case "serverFail", "serverUnavailable", "serverPartialFail", "rateLimit":
		kind = integrations.Retryable
	}
	msg := e.Type
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return &integrations.Error{Kind: kind, Op: op, Message: msg}
}

// decode unmarshals the response of call id.
func decode[T any](op string, r responses, id string) (T, error) {
	var v T
	raw, ok := r[id]
	if !ok {
		return v, &integrations.Error{Kind: integrations.Retryable, Op: op, Message: msgBadResponse,
			Err: fmt.Errorf("no response for call %s", id)}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, &integrations.Error{Kind: integrations.Retryable, Op: op, Message: msgBadResponse, Err: err}
	}
	return v, nil
}

// getResult is a /get response.
type getResult[T any] struct {
	List     []T      `json:"list"`
	NotFound []string `json:"notFound"`
}

// queryResult is a /query response.
type queryResult struct {
	IDs      []string `json:"ids"`
	Position int      `json:"position"`
	Total    *int     `json:"total"`
}

// setResult is a /set response.
type setResult struct {
	Created      map[string]struct{ ID string } `json:"created"`
	Updated      map[string]json.RawMessage     `json:"updated"`
	Destroyed    []string                       `json:"destroyed"`
	NotCreated   map[string]setError            `json:"notCreated"`
	NotUpdated   map[string]setError            `json:"notUpdated"`
	NotDestroyed map[string]setError            `json:"notDestroyed"`
}

// objectRef is one entry of linkedObjects, Stalwart's serialised ObjectId.
type objectRef struct {
	Object string `json:"object"`
	ID     string `json:"id"`
}

// setError is an RFC 8620 SetError with Stalwart's registry extensions (objectId,
// linkedObjects, validationErrors).
type setError struct {
	Type             string            `json:"type"`
	Description      string            `json:"description"`
	Properties       []string          `json:"properties"`
	ObjectID         json.RawMessage   `json:"objectId"`
	LinkedObjects    []json.RawMessage `json:"linkedObjects"`
	ValidationErrors []struct {
		Type     string `json:"type"`
		Property string `json:"property"`
	} `json:"validationErrors"`
}

// refOf reads an ObjectId, which Stalwart serialises as {"object": type, "id": id}; a bare id
// string is accepted too.
func refOf(raw json.RawMessage) objectRef {
	var r objectRef
	if err := json.Unmarshal(raw, &r); err == nil {
		return r
	}
	var id string
	_ = json.Unmarshal(raw, &id)
	return objectRef{ID: id}
}

func (e setError) objectID() string { return refOf(e.ObjectID).ID }

func (e setError) linked() []objectRef {
	out := make([]objectRef, 0, len(e.LinkedObjects))
	for _, raw := range e.LinkedObjects {
		out = append(out, refOf(raw))
	}
	return out
}

// message renders the SetError for an operator: type, description, offending properties and
// validation errors.
func (e setError) message() string {
	msg := e.Type
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if len(e.Properties) > 0 {
		msg += " (" + strings.Join(e.Properties, ", ") + ")"
	}
	for _, v := range e.ValidationErrors {
		msg += "; " + v.Type + " " + v.Property
	}
	return msg
}

// toError classifies a SetError: a rate limit is worth a retry, anything else is a validation
// or conflict the spec (or an operator) must resolve.
func (e setError) toError(op string) error {
	kind := integrations.Permanent
	if e.Type == "rateLimit" {
		kind = integrations.Retryable
	}
	return &integrations.Error{Kind: kind, Op: op, Message: e.message()}
}

// findObject pages through typ/query (filter) with a /get of each page in the same request and
// returns the first object match accepts. The query's text filters are substring matches, so
// callers compare names exactly in match.
func findObject[T any](ctx context.Context, c *Client, op, typ string, filter map[string]any, props []string,
	match func(T) bool) (*T, error) {
	s, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	for pos := 0; ; {
		res, err := c.exec(ctx, op, []invocation{
			{name: typ + "/query", id: "q", args: map[string]any{
				"filter": filter, "position": pos, "limit": s.maxGet, "calculateTotal": true}},
			{name: typ + "/get", id: "g", args: map[string]any{
				"#ids": ref("q", typ+"/query", "/ids"), "properties": props}},
		})
		if err != nil {
			return nil, err
		}
		q, err := decode[queryResult](op, res, "q")
		if err != nil {
			return nil, err
		}
		g, err := decode[getResult[T]](op, res, "g")
		if err != nil {
			return nil, err
		}
		for i := range g.List {
			if match(g.List[i]) {
				return &g.List[i], nil
			}
		}
		pos = q.Position + len(q.IDs)
		if len(q.IDs) == 0 || (q.Total != nil && pos >= *q.Total) {
			return nil, nil
		}
	}
}

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
