// Package app wires platform-api together from a config.Config: the store, the integration
// steps, the controller (MODE=all|controller), the HTTP API (MODE=all|api) and clean shutdown.
// cmd/platform-api and cmd/devstack both run it, so the dev stack runs exactly the production
// wiring.
package app
