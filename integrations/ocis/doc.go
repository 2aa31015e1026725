// Package ocis is the integrations.Step for ownCloud Infinite Scale: it keeps one project space
// per tenant (name from spec.name, quota from the plan, the marker dezky:tenant:<id> in its
// description), disables it while the tenant is suspended, and gives the tenant's oCIS group
// (GroupPrefix + slug) the Manager role on it through the libre-graph API. Space names are not
// unique in oCIS, so the space is found by the drive id recorded last time, else by its marker
// among all project spaces, never by name. It authenticates with OAuth2 client_credentials at
// the IdP oCIS trusts, caching the token until shortly before it expires.
//
// The service account must be an oCIS administrator (role ocisAdmin: it creates groups) and a
// Manager of each tenant's space. It is Manager of the spaces it creates; for a space someone
// else created oCIS answers 404 on the space root to a non-member, administrator or not, while
// the drive itself answers 200, so the step stops with a permanent error naming the space until
// a space manager adds the service account as Manager.
//
// Files, as in every integration: client.go (config, transport, auth), api.go (libre-graph
// wire types and calls), observe.go (read and compare: the drift fields), apply.go (create,
// adopt, correct), delete.go (teardown).
package ocis
