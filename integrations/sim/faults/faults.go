// Package faults is the fault-injection and request-recording middleware the upstream
// simulators share: latency, a 5xx rate, 429 with Retry-After, hanging until the client gives
// up, and dropping the response of a request that was nevertheless carried out (the "lost
// response" that makes a naive retried create duplicate an object).
package faults

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// ErrorBody renders an upstream-shaped error body for an injected status.
type ErrorBody func(status int) (contentType string, body []byte)

// Request is one recorded request, for tests that validate what a client sent.
type Request struct {
	// At is when the request arrived (tests count requests per second with it).
	At     time.Time
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// Config is the set of faults currently injected. The zero value injects nothing.
type Config struct {
	// Latency is added before every request is handled.
	Latency time.Duration
	// ErrorRate in [0,1] is the share of requests answered with ErrorStatus (default 503)
	// without being handled.
	ErrorRate   float64
	ErrorStatus int
	// RateLimitNext answers the next N requests with 429 and Retry-After: RetryAfterSeconds.
	RateLimitNext     int
	RetryAfterSeconds int
	// HangNext makes the next N requests block until the client goes away.
	HangNext int
}

// Injector wraps a simulator's handler. Safe for concurrent use.
type Injector struct {
	body ErrorBody

	mu       sync.Mutex
	cfg      Config
	drop     []func(*http.Request) bool
	requests []Request
	calls    int
}

// New returns an Injector that renders injected errors with body (nil: a plain text body).
func New(body ErrorBody) *Injector {
	if body == nil {
		body = func(status int) (string, []byte) {
			return "text/plain; charset=utf-8", []byte(http.StatusText(status))
		}
	}
	return &Injector{body: body}
}

// Set replaces the injected faults.
func (in *Injector) Set(c Config) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.cfg = c
}

// Clear removes every injected fault (recorded requests stay).
func (in *Injector) Clear() { in.Set(Config{}) }

// DropResponseOnce arranges that the next request matching match is carried out but its
// response is lost: the connection is closed before a byte is written.
func (in *Injector) DropResponseOnce(match func(*http.Request) bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.drop = append(in.drop, match)
}

// Requests returns a copy of every request recorded so far.
func (in *Injector) Requests() []Request {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Request(nil), in.requests...)
}

// Calls counts every request received, faulted or not.
func (in *Injector) Calls() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.calls
}

// ResetRecording forgets recorded requests and the call count.
func (in *Injector) ResetRecording() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.requests = nil
	in.calls = 0
}

type decision struct {
	latency    time.Duration
	status     int
	retryAfter int
	hang       bool
	drop       bool
}

func (in *Injector) decide(r *http.Request, body []byte) decision {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.calls++
	in.requests = append(in.requests, Request{
		At: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body,
	})
	d := decision{latency: in.cfg.Latency}
	switch {
	case in.cfg.HangNext > 0:
		in.cfg.HangNext--
		d.hang = true
	case in.cfg.RateLimitNext > 0:
		in.cfg.RateLimitNext--
		d.status = http.StatusTooManyRequests
		d.retryAfter = in.cfg.RetryAfterSeconds
	case in.cfg.ErrorRate > 0 && rand.Float64() < in.cfg.ErrorRate:
		d.status = in.cfg.ErrorStatus
		if d.status == 0 {
			d.status = http.StatusServiceUnavailable
		}
	}
	for i, m := range in.drop {
		if m(r) {
			in.drop = append(in.drop[:i], in.drop[i+1:]...)
			d.drop = true
			break
		}
	}
	return d
}

// Wrap returns next with the faults applied.
func (in *Injector) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		d := in.decide(r, body)
		if d.latency > 0 {
			t := time.NewTimer(d.latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if d.hang {
			<-r.Context().Done()
			return
		}
		if d.status != 0 {
			ct, b := in.body(d.status)
			w.Header().Set("Content-Type", ct)
			if d.retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(d.retryAfter))
			}
			w.WriteHeader(d.status)
			_, _ = w.Write(b)
			return
		}
		if d.drop {
			// Carry the request out, then lose the answer.
			next.ServeHTTP(httptest.NewRecorder(), r)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		next.ServeHTTP(w, r)
	})
}
