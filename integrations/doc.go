// Package integrations defines the contract between the controller and the upstream systems a
// tenant lives in (Authentik, Stalwart, oCIS): a Step ensures one upstream object tree matches a
// small Desired value and reports what it Observed. Sub-packages hold one client per upstream and,
// under sim/, protocol-faithful simulators of each upstream for tests and the dev stack.
//
// This package imports neither store nor controller: the controller maps a tenant document onto a
// Desired value, so a client can be tested with nothing but an HTTP server.
package integrations
