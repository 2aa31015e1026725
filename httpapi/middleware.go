package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/labstack/echo/v4"
)

// maxBodyBytes caps request bodies (over 1 MiB → 413). A tenant body is a few
// hundred bytes; anything near the cap is a mistake or an attack.
const maxBodyBytes = 1 << 20

// recoverPanics turns a handler's panic into a 500 problem and logs it with the request id
// and the stack, so one bad request never takes the process down.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if r == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(r)
			}
			s.log.ErrorContext(c.Request().Context(), "panic in handler",
				"request_id", requestIDOf(c), "method", c.Request().Method, "route", routeOf(c),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = internalError(fmt.Errorf("panic: %v", r))
		}()
		return next(c)
	}
}

// withTimeout bounds every request's context. The reconcile route may block for its ?wait on
// top of the usual budget, so it gets MaxWait more.
func (s *Server) withTimeout(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		d := s.cfg.RequestTimeout
		if c.Path() == routeReconcile {
			d += s.cfg.MaxWait
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), d)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// limitBody refuses a declared oversized body at once and caps what a handler can read of an
// undeclared one (chunked); the decoder turns the cap into 413.
func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > maxBodyBytes {
			return tooLarge()
		}
		if req.Body != nil {
			req.Body = http.MaxBytesReader(c.Response().Writer, req.Body, maxBodyBytes)
		}
		return next(c)
	}
}

func tooLarge() *Problem {
	return newProblem(http.StatusRequestEntityTooLarge, problemBlank, fmt.Sprintf("the request body exceeds %d bytes", maxBodyBytes))
}

// markMatched runs first on every registered route (see observe).
func markMatched(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(ctxKeyMatched, true)
		return next(c)
	}
}
