package httpapi

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/labstack/echo/v4"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds a caller-supplied id: long enough for a UUID or a trace id, short
// enough that nobody stuffs a payload into our logs through it.
const maxRequestIDLen = 128

// ctxKeyRequestID is the echo context key of the request id.
const ctxKeyRequestID = "httpapi.requestID"

// requestID takes a sane X-Request-Id from the request (so a proxy's or client's id follows the
// request through our logs) or makes one, and sets it on the response before anything else
// runs, so even a panic or a 404 answers with it.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(HeaderRequestID)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Set(ctxKeyRequestID, id)
		c.Response().Header().Set(HeaderRequestID, id)
		return next(c)
	}
}

// saneRequestID accepts 1–128 characters of [A-Za-z0-9._-].
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(ctxKeyRequestID).(string)
	return id
}
