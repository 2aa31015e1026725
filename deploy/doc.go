// Package deploy holds no code: it is the home of the checks of the deployment files beside it
// (deploy/compose, deploy/kubernetes, deploy/grafana, deploy/prometheus). They run with the
// repository's tests (`make test`) and need no container engine or cluster:
//
//   - the compose file loads with compose-go (the loader `docker compose` itself uses): schema,
//     interpolation with .env.example, profiles; and it sets exactly the variables platform-api
//     reads (internal/config.Vars);
//   - both kustomize trees build with krusty and decode strictly into Kubernetes API types; the
//     Deployment's probes, hardening and environment are checked against the same list;
//   - every metric the Grafana dashboard and the alert rules query parses as PromQL and is one
//     a live dev stack exports on /metrics;
//   - the Dockerfile's build command produces a static binary that reports the stamped version.
//
// It is a module of its own so that compose-go, kustomize, the Kubernetes API types and
// Prometheus's PromQL parser never enter the service's dependency graph.
package deploy
