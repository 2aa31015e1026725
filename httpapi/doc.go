// Package httpapi is the HTTP API of platform-api (docs/ARCHITECTURE.md, "API surface"): an echo v4 server that lets a
// portal, an operator console and partner integrations read tenants and write their desired
// state (spec and metadata) to the store. It never calls an upstream or the controller: a
// write here is picked up by the controller through the database, and the only way the API
// learns what happened is by reading the status document the controller wrote.
//
// Callers authenticate with bearer JWTs verified by go-oidc against one issuer and several
// accepted audiences; the audience and the groups claim decide whether a caller is an operator
// or a partner admin, memberships decide a user's role in a tenant. Every error is an RFC 9457
// problem document, every response carries X-Request-Id, every write is logged with the
// subject, the tenant and the request id, and the whole surface is described by the OpenAPI
// 3.1 document embedded here and served at GET /openapi.json.
package httpapi
