// Package authentiksim is a protocol-faithful simulator of the part of Authentik's REST API v3
// that platform-api uses: groups (list, retrieve, create, update, delete, add_user,
// remove_user) and users (list, retrieve). It follows Authentik 2026.2's published schema and
// server code rather than what our client sends: bearer-token authentication answered the way
// Django REST framework answers it (403 with a GenericError body, never 401), globally unique
// group names (400 ValidationError keyed by field), Authentik's page-number pagination
// (next/previous are page numbers, 0 meaning none; default page size 100), include_users
// defaulting to true, and DRF's 404 bodies. Tests and the dev stack seed users with AddUser and
// simulate drift with the out-of-band mutators; faults are injected through Faults().
package authentiksim
