// Package authentik is the Authentik step: it keeps one group per tenant in Authentik (REST API
// v3) named GroupPrefix+slug, carrying the attributes dezkyTenantSlug, dezkyTenantId (the
// ownership marker "dezky:tenant:<id>") and dezkySuspended, with the tenant's owner as a member.
// Ensure finds the group by its recorded UUID, else by exact name, creates it when missing
// (a duplicate-name answer to a retried create becomes a lookup, never a second group), adopts
// an unmarked group, refuses one marked for another tenant, and patches only what drifted.
// Delete removes the group it owns and treats a group already gone as success.
package authentik
