// Package deploy holds the deployment files of attnd (Dockerfiles, docker
// compose, Kubernetes manifests, systemd units, the Windows service guide,
// Prometheus rules and the Grafana dashboard) and, in deploy_test.go, the
// checks that CI runs on them: none of these files can run in CI (no
// container engine, no cluster, no systemd as PID 1), so they are parsed and
// cross-checked instead. See README.md, "What CI checks".
package deploy
