// Package platformclient is a small typed client of platform-api's HTTP API (the routes and
// shapes of httpapi/openapi.json), written for platformctl. Every value it decodes keeps the
// exact bytes the server sent (Raw), so a caller can print what the API returned rather than
// a re-encoding of the fields this package happens to know.
//
// Errors come in two kinds a caller can tell apart with errors.As: *APIError (the server
// answered with an error status; it carries the RFC 9457 problem document) and *TransportError
// (the server could not be reached or the exchange broke off).
package platformclient
