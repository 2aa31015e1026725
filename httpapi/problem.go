package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dezky/platform-api/store"
)

// ContentTypeProblem is the media type of every error response (RFC 9457).
const ContentTypeProblem = "application/problem+json"

// Problem types. Plain HTTP failures use "about:blank" (RFC 9457 §4.2.1: the title is then the
// status text); the ones a client branches on get a type of their own.
const (
	problemBlank        = "about:blank"
	problemValidation   = "urn:dezky:problem:validation"
	problemBadRequest   = "urn:dezky:problem:bad-request"
	problemConflict     = "urn:dezky:problem:conflict"
	problemPrecondition = "urn:dezky:problem:precondition-failed"
	problemUnauthorized = "urn:dezky:problem:unauthorized"
	problemTimeout      = "urn:dezky:problem:timeout"
	problemUnavailable  = "urn:dezky:problem:store-unavailable"
)

// retryAfterUnavailable is the Retry-After (seconds) of a 503 for an unreachable database: the
// store notices the database's return within about a second (its heartbeat), so a client that
// waits this long usually succeeds on its next try.
const retryAfterUnavailable = "2"

// Problem is an RFC 9457 problem document and the error handlers return to produce one.
type Problem struct {
	// Type identifies the kind of problem.
	Type string `json:"type"`
	// Title is a short summary of the kind.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence.
	Detail string `json:"detail,omitempty"`
	// Instance is the request path of this occurrence.
	Instance string `json:"instance,omitempty"`
	// Errors names the offending fields of a bad request.
	Errors []store.FieldError `json:"errors,omitempty"`
	// RequestID repeats X-Request-Id so a pasted body is enough to find the logs.
	RequestID string `json:"requestId,omitempty"`

	// extra members (RFC 9457 §3.2), e.g. readiness details.
	extra map[string]any
	// header is set on the response (WWW-Authenticate, Retry-After).
	header http.Header
	// cause is logged, never sent.
	cause error
}

// Error makes a Problem an error handlers can return.
func (p *Problem) Error() string {
	if p.cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", p.Status, p.Title, p.Detail, p.cause)
	}
	return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
}

// Unwrap exposes the cause to errors.Is/As.
func (p *Problem) Unwrap() error { return p.cause }

// MarshalJSON adds the extension members to the standard ones.
func (p *Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal((*plain)(p))
	if err != nil || len(p.extra) == 0 {
		return b, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range p.extra {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

func newProblem(status int, typ, detail string) *Problem {
	return &Problem{Type: typ, Title: http.StatusText(status), Status: status, Detail: detail}
}

func (p *Problem) withHeader(k, v string) *Problem {
	if p.header == nil {
		p.header = http.Header{}
	}
	p.header.Set(k, v)
	return p
}

func (p *Problem) withCause(err error) *Problem {
	p.cause = err
	return p
}

func (p *Problem) withExtra(m map[string]any) *Problem {
	if p.extra == nil {
		p.extra = map[string]any{}
	}
	maps.Copy(p.extra, m)
	return p
}

func badRequest(detail string, fields ...store.FieldError) *Problem {
	p := newProblem(http.StatusBadRequest, problemBadRequest, detail)
	p.Errors = fields
	return p
}

// badParam is a 400 for one query parameter or header.
func badParam(name, message string) *Problem {
	return badRequest(name+" "+message, store.FieldError{Field: name, Message: message})
}

func invalid(fields ...store.FieldError) *Problem {
	p := newProblem(http.StatusUnprocessableEntity, problemValidation, "the request body has invalid fields")
	p.Title = "Validation failed"
	p.Errors = fields
	if len(fields) == 1 {
		p.Detail = fields[0].Field + ": " + fields[0].Message
	}
	return p
}

func forbidden(detail string) *Problem {
	return newProblem(http.StatusForbidden, problemBlank, detail)
}

// notFound is the one 404 body for a resource: the same whether the thing is missing or merely
// invisible to the caller, so a 404 never reveals that a tenant exists.
func notFound(kind, slug string) *Problem {
	return newProblem(http.StatusNotFound, problemBlank, fmt.Sprintf("%s %q not found", kind, slug))
}

func conflict(detail string, fields ...store.FieldError) *Problem {
	p := newProblem(http.StatusConflict, problemConflict, detail)
	p.Errors = fields
	return p
}

func preconditionFailed(detail string) *Problem {
	return newProblem(http.StatusPreconditionFailed, problemPrecondition, detail)
}

func internalError(err error) *Problem {
	return newProblem(http.StatusInternalServerError, problemBlank, "an internal error occurred; the request id identifies it in the logs").withCause(err)
}

// problemFrom turns any error a handler returned into the problem to send.
func problemFrom(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromEchoError(he)
	}
	var ve *store.ValidationError
	switch {
	case errors.As(err, &ve):
		return invalid(ve.Fields...)
	case store.IsUnavailable(err):
		// Checked before the deadline below: a server selection that ran out of time is the
		// database being away, not this request being slow, and a broken connection is never
		// the server's own bug (500).
		return unavailable().withCause(err)
	case errors.Is(err, context.DeadlineExceeded):
		return newProblem(http.StatusServiceUnavailable, problemTimeout, "the request did not finish in time").
			withHeader("Retry-After", "1").withCause(err)
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this, but the access log records it.
		return newProblem(http.StatusServiceUnavailable, problemTimeout, "the request was cancelled").withCause(err)
	}
	return internalError(err)
}

// unavailable is the 503 of a request that needs the database while it cannot be reached.
func unavailable() *Problem {
	return newProblem(http.StatusServiceUnavailable, problemUnavailable, "the database is unreachable; retry shortly").
		withHeader("Retry-After", retryAfterUnavailable)
}

// requireStore answers 503 at once while the store knows it has no server to talk to, instead
// of letting the request wait out the driver's server selection. Probes (/health, /ready,
// /metrics) do not use it: /ready must keep asking the database itself.
func (s *Server) requireStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.store.Available() {
			return unavailable()
		}
		return next(c)
	}
}

// fromEchoError covers echo's own errors: unknown route, wrong method, and what a middleware
// of echo's might return.
func fromEchoError(he *echo.HTTPError) *Problem {
	detail := http.StatusText(he.Code)
	if m, ok := he.Message.(string); ok && m != "" {
		detail = m
	}
	switch he.Code {
	case http.StatusNotFound:
		detail = "no such route"
	case http.StatusMethodNotAllowed:
		detail = "this route does not accept the method"
	}
	p := newProblem(he.Code, problemBlank, detail)
	if he.Code >= 500 {
		p.cause = he
		if he.Internal != nil {
			p.cause = he.Internal
		}
	}
	return p
}

// writeProblem sends p as application/problem+json.
func writeProblem(c echo.Context, p *Problem) error {
	out := *p
	out.Instance = c.Request().URL.Path
	out.RequestID = requestIDOf(c)
	h := c.Response().Header()
	for k, v := range p.header {
		h[k] = v
	}
	body, err := json.Marshal(&out)
	if err != nil {
		return fmt.Errorf("marshal problem: %w", err)
	}
	h.Set(echo.HeaderContentType, ContentTypeProblem)
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(p.Status)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err = c.Response().Write(append(body, '\n'))
	return err
}

// handleError is echo's HTTPErrorHandler: everything that goes wrong leaves as a problem, and
// what the client cannot be told (a 5xx's cause) is logged with the request id.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := problemFrom(err)
	if p.Status >= 500 && !errors.Is(err, context.Canceled) {
		level := slog.LevelError
		if p.Type == problemUnavailable {
			level = slog.LevelWarn // the database's outage, logged by the thousand: not a bug here
		}
		s.log.Log(c.Request().Context(), level, "request failed",
			"request_id", requestIDOf(c), "method", c.Request().Method, "route", routeOf(c),
			"status", p.Status, "error", err)
	}
	if werr := writeProblem(c, p); werr != nil {
		s.log.WarnContext(c.Request().Context(), "write problem", "request_id", requestIDOf(c), "error", werr)
	}
}
