#!/usr/bin/env bash
# setup-kcat.sh installs kcat from Debian when it is missing: the devstack test
# lists the embedded broker's topics with `kcat -L`, and the ingest benchmark
# compares against kcat producing the same events. Idempotent.
set -euo pipefail
if command -v kcat >/dev/null 2>&1; then
  echo "setup-kcat: kcat already installed" >&2
  exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup-kcat: need root or sudo to install kcat" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
echo "setup-kcat: installing kcat" >&2
if ! "${SUDO[@]}" apt-get install -y --no-install-recommends kcat; then
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" apt-get install -y --no-install-recommends kcat
fi
