// Package authentik is the Authentik step: it keeps one group per tenant in Authentik (REST API
// v3) named GroupPrefix+slug, carrying the attributes dezkyTenantSlug, dezkyTenantId (the
// tenant's bare uid, as the Node service wrote it) and dezkySuspended, with the tenant's owner as
// a member. Observe finds the group by its recorded UUID, else by exact name, and lists what
// differs; Apply creates the group when missing (a duplicate-name answer to a retried create
// becomes a lookup, never a second group), adopts an unmarked group, refuses one marked for
// another tenant, and patches only what drifted. Delete removes the group it owns, treats a
// group already gone as success and leaves anyone else's alone.
//
// Files, as in every integration: client.go (config, transport, auth), api.go (the API's wire
// types and calls), observe.go, apply.go, delete.go.
package authentik
