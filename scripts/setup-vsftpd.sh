#!/usr/bin/env bash
# setup-vsftpd.sh installs vsftpd and openssl from Debian when they are missing.
# The ftpsrc tests start a loopback vsftpd (scripts/vsftpd.sh) and make a
# self-signed certificate with openssl. Idempotent: does nothing when both are
# present; runs apt-get update only when the first install attempt fails.
set -euo pipefail

missing=()
command -v vsftpd >/dev/null 2>&1 || [ -x /usr/sbin/vsftpd ] || missing+=(vsftpd)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-vsftpd: vsftpd and openssl already installed" >&2
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup-vsftpd: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# The Debian package would start a system-wide vsftpd on port 21; the tests run
# their own on loopback high ports. Where no policy-rc.d exists (containers),
# one that forbids service starts is put in place for the install only.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  trap '"${SUDO[@]}" rm -f "$policy"' EXIT
fi
echo "setup-vsftpd: installing ${missing[*]}" >&2
if ! "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
  echo "setup-vsftpd: install failed, running apt-get update and retrying" >&2
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
