// Package ocissim is a protocol-faithful simulator of ownCloud Infinite Scale's libre-graph API
// (spaces, groups, space-root sharing) together with the OAuth2 token endpoint of the IdP that
// oCIS trusts, for tests and the dev stack. It follows the libre-graph OpenAPI document v1.0.4
// and what a real oCIS 7.1.0 answered when probed on loopback (the upstream contract is in
// docs/ARCHITECTURE.md):
//
//   - space names are not unique and are validated; JSON bodies are decoded strictly; a space
//     gets a default quota (1 GB), an alias from its name, and lists its members (root.permissions,
//     with role names) in the drive resource and in listings;
//   - $filter's root operator must be eq (anything else is 501 notSupported); an eq on driveType
//     or id filters, one on any other property is ignored; disabled spaces stay listed as
//     "trashed" until purged; an administrator also sees personal and virtual drives;
//   - spaces have members: the identity that creates a space is its Manager. The service account
//     is an administrator, so it may read, change, disable and purge any space, but a space's root
//     (permissions, invite) answers 404 to it unless it is a member, and only a Manager may change
//     grants. CreateDriveOutOfBand creates a space as another administrator; GrantUser adds a
//     member;
//   - a deleted group's grants stay on the spaces; a negative quota breaks a space until a valid
//     one is set; removing a grant that is not there is a 500;
//   - only an unexpired bearer token it issued opens the API, and a 401 has an empty body.
//
// Graph errors carry the libre-graph body {"error":{"code","message","innererror"}} with oCIS's
// own messages. The handler is wrapped with the shared faults middleware, so tests can add
// latency, 5xx, 429, hangs and lost responses, and can replay every request against the API
// document; SetGroupLookupLag imitates a lagging identity cache.
package ocissim
