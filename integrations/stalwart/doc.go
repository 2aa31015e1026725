// Package stalwart is the Stalwart (v0.16+) step: it keeps a tenant's mail domain and its
// "team" group account in Stalwart's registry, managed over JMAP (urn:stalwart:jmap, the
// x:Domain/* and x:Account/* methods; the REST /api/principal API is gone since v0.16). The
// client discovers the JMAP session at /.well-known/jmap (following its redirect), caches it
// until the server's sessionState changes or the API answers 401/404, batches calls within the
// session's maxCallsInRequest/maxObjectsInGet/maxObjectsInSet, and reads errors from the body:
// method-level errors and SetErrors arrive inside HTTP 200. Ownership is a "dezky:tenant:<id>"
// marker in the objects' description; a retried create that hits primaryKeyViolation adopts the
// returned objectId under the marker rule, so a lost response never duplicates anything.
// Suspension disables the domain (Domain.isEnabled), the only enable switch the v0.16 schema
// offers for these objects. When spec.mail.domain changes or is removed, the domain recorded
// before is torn down once it is no longer wanted, if it carries this tenant's marker and holds
// no mailboxes people created.
//
// Files, as in every integration: client.go (config, transport, the JMAP session), api.go (JMAP
// envelope, registry wire types and lookups), observe.go, apply.go (with createOrAdopt, the one
// primaryKeyViolation path), delete.go.
package stalwart
