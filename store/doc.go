// Package store owns the MongoDB documents (docs/ARCHITECTURE.md, "Data model"): tenants (desired state, written by the
// API), tenant_status (observed state, written only by the controller), partners, memberships,
// subscriptions and events. Desired and observed state live in two collections with one writer
// each, so no write can clobber another even on a server whose updates are read-modify-write
// (FerretDB). Updates of one tenant are compare-and-set on metadata.resourceVersion and, inside
// one process, serialised per tenant, so they stay correct on FerretDB too.
package store
