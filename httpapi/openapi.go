package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument is the OpenAPI 3.1 description of every route, kept in the repository next
// to the handlers; TestOpenAPIMatchesRoutes fails when the two drift apart.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the embedded OpenAPI document (a copy: callers cannot change what is served).
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

// openapi is GET /openapi.json.
func (s *Server) openapi(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}
