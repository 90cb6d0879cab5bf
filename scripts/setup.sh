#!/usr/bin/env bash
# Installs everything the tests and the demo need; each setup-*.sh is idempotent.
set -euo pipefail
cd "$(dirname "$0")"
for s in setup-*.sh; do
  [ -e "$s" ] || continue
  echo "setup: $s" >&2
  bash "$s"
done
