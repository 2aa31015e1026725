// Package ocissim is a protocol-faithful simulator of ownCloud Infinite Scale's libre-graph API
// (spaces, groups, space-root sharing) together with the OAuth2 token endpoint of the IdP that
// oCIS trusts, for tests and the dev stack. It follows the libre-graph OpenAPI document v1.0.4
// and oCIS's own server rules (NOTES.md §3): space names are not unique and are validated, JSON
// bodies are decoded strictly, $filter takes exactly one `eq` on driveType or id, disabled spaces
// stay listed as "trashed" until purged, only an unexpired bearer token it issued opens the API,
// and every error carries the libre-graph body {"error":{"code","message","innererror"}}.
//
// The handler is wrapped with the shared faults middleware, so tests can add latency, 5xx, 429,
// hangs and lost responses, and can replay every request against the API document.
package ocissim
