package integrations

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Kind classifies an upstream failure once, at the client, so the controller can decide between
// a backoff requeue (Retryable), a recorded error that waits for a change (Permanent) and
// "already gone" (NotFound).
type Kind int

// Error kinds.
const (
	// Retryable: network errors, timeouts, 5xx, 429, JMAP serverFail. Requeue with backoff.
	Retryable Kind = iota + 1
	// Permanent: validation 4xx, a name owned by someone else. Retry only on change.
	Permanent
	// NotFound: the object does not exist (a Delete treats it as success).
	NotFound
)

func (k Kind) String() string {
	switch k {
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	case NotFound:
		return "not found"
	default:
		return "unknown"
	}
}

// Error is a classified upstream error. Message is the upstream's own text (safe to show an
// operator: it never holds a secret, but it may name internal hosts, so tenant owners are shown
// Describe's words instead).
type Error struct {
	Kind Kind
	// Op names what was attempted ("create authentik group").
	Op string
	// Status is the HTTP status, 0 when none was received.
	Status int
	// Message is the upstream's explanation.
	Message string
	// Public, when set, is a sentence this service wrote about the tenant's own objects (a name
	// taken by another tenant, a space the service account cannot manage): safe to show a tenant
	// owner as it is, and more useful to them than the failure class.
	Public string
	// RetryAfter is the server's requested delay (429/503 Retry-After), zero when none.
	RetryAfter time.Duration
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	s := e.Op
	if e.Status != 0 {
		s += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the first *Error in err's chain. Unclassified errors count as
// Retryable: a bug or a surprise should back off, not be recorded as the user's fault forever.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Retryable
}

// IsRetryable reports whether err should be retried with backoff.
func IsRetryable(err error) bool { return err != nil && KindOf(err) == Retryable }

// IsPermanent reports whether err waits for a spec change or a forced reconcile.
func IsPermanent(err error) bool { return err != nil && KindOf(err) == Permanent }

// IsNotFound reports whether err means the object does not exist.
func IsNotFound(err error) bool { return err != nil && KindOf(err) == NotFound }

// RetryAfterOf returns the delay the upstream asked for, zero when it did not.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// PermanentError builds a Permanent error for a failure found by the client itself (an
// unreadable response, a request it could not build). Owners see only its class.
func PermanentError(op, msg string) error {
	return &Error{Kind: Permanent, Op: op, Message: msg}
}

// ConflictError builds a Permanent error for a rule about the tenant's own objects that only a
// person can resolve (another tenant's marker on the object, an address taken by an account of
// another kind). msg is written by this service and shown to the tenant's owner as it is.
func ConflictError(op, msg string) error {
	return &Error{Kind: Permanent, Op: op, Message: msg, Public: msg}
}

// Describe turns err into words a tenant owner may read: which upstream (by its plain noun,
// see UpstreamNoun) and what class of failure, never an address, URL or raw upstream text.
// The full error goes to logs and to events, which operators read.
func Describe(noun string, err error) string {
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.DeadlineExceeded) {
			return noun + " did not answer in time; retrying"
		}
		return noun + " step failed unexpectedly; retrying"
	}
	if e.Public != "" {
		return e.Public
	}
	switch {
	case e.Kind == Retryable && e.Message == "timeout":
		return noun + " did not answer in time; retrying"
	case e.Kind == Retryable && e.Status == 0:
		return noun + " unreachable; retrying"
	case e.Status == http.StatusTooManyRequests:
		return noun + " is limiting our requests; retrying"
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return noun + " refused our credentials; an operator must check them"
	case e.Kind == Retryable && e.Status >= 500:
		return fmt.Sprintf("%s failed (HTTP %d); retrying", noun, e.Status)
	case e.Kind == Retryable:
		return noun + " answered unexpectedly; retrying"
	case e.Status != 0:
		return fmt.Sprintf("%s refused the change (HTTP %d); an operator must look", noun, e.Status)
	default:
		return noun + " refused the change; an operator must look"
	}
}

// TransportError classifies an error returned by http.Client.Do (no response): always
// Retryable, including timeouts and cancellations, since nothing says the upstream refused.
func TransportError(op string, err error) error {
	e := &Error{Kind: Retryable, Op: op, Err: err}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Message = "timeout"
	case errors.As(err, &ne) && ne.Timeout():
		e.Message = "timeout"
	}
	return e
}

// StatusError classifies an HTTP error response: 404 → NotFound, 408/429/5xx → Retryable
// (honouring Retry-After), every other 4xx → Permanent. msg is the upstream's message already
// extracted from its error body.
func StatusError(op string, status int, header http.Header, msg string) error {
	e := &Error{Op: op, Status: status, Message: msg}
	switch {
	case status == http.StatusNotFound:
		e.Kind = NotFound
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		e.Kind = Retryable
		e.RetryAfter = parseRetryAfter(header.Get("Retry-After"))
	default:
		e.Kind = Permanent
	}
	return e
}

// parseRetryAfter reads delta-seconds or an HTTP date; anything else means no hint.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
