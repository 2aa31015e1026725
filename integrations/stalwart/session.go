package stalwart

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/dezky/platform-api/integrations"
)

// Capability URNs every request names in "using" (DESIGN §10).
const (
	capCore     = "urn:ietf:params:jmap:core"
	capStalwart = "urn:stalwart:jmap"
)

// RFC 8620 §2's suggested minimums, used when a session omits a limit.
const (
	fallbackMaxCalls = 16
	fallbackMaxGet   = 500
	fallbackMaxSet   = 500
)

// session is what the client keeps of the JMAP session resource.
type session struct {
	apiURL string
	// accountID is the primary account for urn:stalwart:jmap; empty when the session names none
	// (then calls leave accountId out and Stalwart uses the token's own account).
	accountID string
	state     string
	maxCalls  int
	maxGet    int
	maxSet    int
}

// session returns the cached session, fetching it when there is none.
func (c *Client) session(ctx context.Context) (*session, error) {
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := c.fetchSession(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	return s, nil
}

// dropSession forgets s (and only s: another worker may already have fetched a newer one), so
// the next call refetches it.
func (c *Client) dropSession(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == s {
		c.sess = nil
	}
}

// fetchSession reads /.well-known/jmap. Stalwart answers 307 with an empty body to
// /jmap/session; net/http follows it and keeps the Authorization header because the redirect
// stays on the same host (it would drop it for another host, which is what we want).
func (c *Client) fetchSession(ctx context.Context) (*session, error) {
	target := c.base.JoinPath(".well-known", "jmap").String()
	resp, body, err := c.send(ctx, errSession, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(errSession, resp, body)
	}
	var raw struct {
		Capabilities map[string]json.RawMessage `json:"capabilities"`
		// primaryAccounts values are ids; decoded loosely so an odd entry does not fail the
		// whole session.
		PrimaryAccounts map[string]any `json:"primaryAccounts"`
		APIURL          string         `json:"apiUrl"`
		State           string         `json:"state"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &integrations.Error{Kind: integrations.Retryable, Op: errSession, Status: resp.StatusCode,
			Message: msgBadResponse, Err: err}
	}
	api, err := resp.Request.URL.Parse(raw.APIURL)
	if err != nil || raw.APIURL == "" || (api.Scheme != "http" && api.Scheme != "https") {
		return nil, integrations.PermanentError(errSession, "session has no usable apiUrl")
	}
	var core struct {
		MaxCallsInRequest int `json:"maxCallsInRequest"`
		MaxObjectsInGet   int `json:"maxObjectsInGet"`
		MaxObjectsInSet   int `json:"maxObjectsInSet"`
	}
	if c, ok := raw.Capabilities[capCore]; ok {
		_ = json.Unmarshal(c, &core)
	}
	s := &session{
		apiURL:   api.String(),
		state:    raw.State,
		maxCalls: orDefault(core.MaxCallsInRequest, fallbackMaxCalls),
		maxGet:   orDefault(core.MaxObjectsInGet, fallbackMaxGet),
		maxSet:   orDefault(core.MaxObjectsInSet, fallbackMaxSet),
	}
	if id, ok := raw.PrimaryAccounts[capStalwart].(string); ok {
		s.accountID = id
	}
	return s, nil
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
