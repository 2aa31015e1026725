package platformclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds what the client reads of one response: the largest page of tenants the API
// sends (500 items) is well under it, and a misdirected request to something that streams
// forever must not eat the operator's memory.
const maxBody = 32 << 20

// Options configures New. Zero values mean the documented defaults.
type Options struct {
	// BaseURL is platform-api's base URL, e.g. http://localhost:3001. Required.
	BaseURL string
	// Token is sent as "Authorization: Bearer <token>" when not empty.
	Token string
	// HTTPClient does the requests. Defaults to a client without its own timeout: every call
	// is bounded by Timeout (plus the server-side wait it asked for) through its context.
	HTTPClient *http.Client
	// Timeout bounds one request, on top of any wait the request asks the server for.
	// Defaults to 30s: the API answers in milliseconds; a server that takes longer is stuck.
	Timeout time.Duration
	// UserAgent is sent with every request. Defaults to "platformclient".
	UserAgent string
}

// Client talks to one platform-api.
type Client struct {
	base      *url.URL
	token     string
	http      *http.Client
	timeout   time.Duration
	userAgent string
}

// New returns a client of the API at o.BaseURL.
func New(o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host[:port]", o.BaseURL)
	}
	c := &Client{base: u, token: o.Token, http: o.HTTPClient, timeout: o.Timeout, userAgent: o.UserAgent}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	if c.userAgent == "" {
		c.userAgent = "platformclient"
	}
	return c, nil
}

// BaseURL is the server this client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// request is one call: the path under the base URL, its query, an optional JSON body and how
// long the server was asked to wait (added to the client's own timeout).
type request struct {
	method string
	path   string
	query  url.Values
	body   any
	header http.Header
	wait   time.Duration
}

// response is a successful answer (any 2xx).
type response struct {
	status int
	body   []byte
}

// do sends r and returns a 2xx answer, an *APIError for any other status, or a
// *TransportError when no answer arrived.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout+r.wait)
	defer cancel()
	u := *c.base
	u.Path = c.base.Path + r.path
	u.RawQuery = r.query.Encode()
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s body: %w", r.method, r.path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", r.method, r.path, err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &TransportError{Method: r.method, URL: c.base.String(), Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, &TransportError{Method: r.method, URL: c.base.String(), Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newAPIError(r.method, r.path, resp, b)
	}
	return &response{status: resp.StatusCode, body: b}, nil
}

// decode unmarshals a successful body, naming the route when the server sent something else
// than the documented JSON (a proxy's HTML page, say).
func decode(r request, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s %s: the server's answer is not the expected JSON: %w", r.method, r.path, err)
	}
	return nil
}

// Problem is an RFC 9457 problem document, as the API sends for every error.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Instance  string       `json:"instance"`
	RequestID string       `json:"requestId"`
	Errors    []FieldError `json:"errors"`
}

// FieldError names one offending field of a bad request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// APIError is an answer with a non-2xx status.
type APIError struct {
	Method string
	Path   string
	// Status is the HTTP status code.
	Status int
	// Problem is the decoded problem document; when the body was not one (a proxy's error
	// page), Detail holds the start of the body or the status text.
	Problem Problem
}

func newAPIError(method, path string, resp *http.Response, body []byte) *APIError {
	e := &APIError{Method: method, Path: path, Status: resp.StatusCode}
	if json.Unmarshal(body, &e.Problem) != nil || (e.Problem.Detail == "" && e.Problem.Title == "") {
		e.Problem = Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), Detail: firstLine(body)}
	}
	if e.Problem.RequestID == "" {
		e.Problem.RequestID = resp.Header.Get("X-Request-Id")
	}
	return e
}

// Error is one line: the server's explanation, the fields it named, and the status.
func (e *APIError) Error() string {
	msg := e.Problem.Detail
	if msg == "" {
		msg = e.Problem.Title
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	var fields []string
	for _, f := range e.Problem.Errors {
		// The detail often already says it ("slug: is taken"); say it once.
		if fe := f.Field + ": " + f.Message; !strings.Contains(msg, fe) && !strings.Contains(msg, f.Message) {
			fields = append(fields, fe)
		}
	}
	if len(fields) > 0 {
		msg += " (" + strings.Join(fields, "; ") + ")"
	}
	return fmt.Sprintf("%s [HTTP %d]", msg, e.Status)
}

// StatusCode reports the status of err when it is an *APIError, else 0.
func StatusCode(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// TransportError is a request that got no HTTP answer: connection refused, DNS, TLS, timeout.
type TransportError struct {
	Method string
	URL    string
	Err    error
}

// Error says which server could not be reached and why, in the words of the innermost cause
// ("connection refused" rather than the whole dial chain).
func (e *TransportError) Error() string {
	return fmt.Sprintf("cannot reach platform-api at %s: %s", e.URL, rootCause(e.Err))
}

// Unwrap exposes the cause to errors.Is (context.DeadlineExceeded, syscall.ECONNREFUSED).
func (e *TransportError) Unwrap() error { return e.Err }

// rootCause is the message of the innermost wrapped error, which is the one a person can act
// on; a timeout is named as such.
func rootCause(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// listPage reads one page of a list endpoint ({"items": [...], "nextCursor": ...}).
// keepRaw hands each item its bytes exactly as the server sent them, so a
// caller printing JSON shows the server's document rather than our struct.
func listPage[T any](ctx context.Context, c *Client, r request, keepRaw func(*T, json.RawMessage)) ([]T, string, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, "", err
	}
	var page struct {
		Items      []json.RawMessage `json:"items"`
		NextCursor *string           `json:"nextCursor"`
	}
	if err := decode(r, resp.body, &page); err != nil {
		return nil, "", err
	}
	items := make([]T, len(page.Items))
	for i, raw := range page.Items {
		if err := decode(r, raw, &items[i]); err != nil {
			return nil, "", err
		}
		keepRaw(&items[i], raw)
	}
	next := ""
	if page.NextCursor != nil {
		next = *page.NextCursor
	}
	return items, next, nil
}
