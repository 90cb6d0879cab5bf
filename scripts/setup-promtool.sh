#!/usr/bin/env bash
# setup-promtool.sh installs promtool (Debian package prometheus) when it is
# missing: `go test ./deploy/` checks the alert rules and runs their unit tests
# (deploy/observability/alerts_test.yaml) with it. The package's server is not
# started: where no policy-rc.d exists (containers), one that forbids service
# starts is put in place for the install only. Idempotent.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then
  echo "setup-promtool: promtool already installed" >&2
  exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup-promtool: need root or sudo to install prometheus (promtool)" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  trap '"${SUDO[@]}" rm -f "$policy"' EXIT
fi
echo "setup-promtool: installing prometheus (for promtool)" >&2
if ! "${SUDO[@]}" apt-get install -y --no-install-recommends prometheus; then
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" apt-get install -y --no-install-recommends prometheus
fi
