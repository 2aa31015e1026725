// Package sim groups the upstream simulators (authentik, stalwart, ocis) used by tests and the
// dev stack. Each follows its upstream's published API and rules, not what our clients send;
// faults holds the fault injection and request recording they share.
package sim
