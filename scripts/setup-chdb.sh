#!/usr/bin/env bash
# setup-chdb.sh fetches libchdb.so (the ClickHouse engine as a shared library)
# from the npm package @chdb/lib-linux-x64-gnu at a pinned version into
#   ${ATTND_CACHE:-<repo>/.cache}/chdb/<version>/libchdb.so
# internal/chdb finds it there (or at $ATTND_CHDB_LIB).
#
# Needs only curl, tar and sha512sum/base64 (no node): the tarball is taken from
# the npm registry and checked against the sha512 integrity pinned below (the
# registry's dist.integrity for that version). Idempotent: does nothing when the
# library is already in place; a partial download never lands in the cache.
set -euo pipefail

VERSION=26.5.3
INTEGRITY='sha512-fPrLmRt5Moor9yGz4mazbrNje4t7X9KB2mTGkXFWRxRBs2iKy8yh6jx11xsa0Qr3iDFMU/yHqd+bVdYJXu3QaQ=='
PKG='@chdb/lib-linux-x64-gnu'
REGISTRY="${npm_config_registry:-${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org/}}"
REGISTRY="${REGISTRY%/}"

repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${ATTND_CACHE:-$repo/.cache}"
dest="$cache/chdb/$VERSION"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "setup-chdb: $PKG is for Linux x86_64 with glibc; this is $(uname -s)-$(uname -m)" >&2
  exit 1
fi
if [ -s "$dest/libchdb.so" ] && [ -f "$dest/.verified" ]; then
  echo "setup-chdb: $dest/libchdb.so already in place" >&2
  exit 0
fi

missing=()
for tool in curl tar base64 sha512sum od; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -ne 0 ]; then
  # base64 and sha512sum come with coreutils; curl and tar may be missing on a
  # minimal image.
  pkgs=()
  for m in "${missing[@]}"; do
    case "$m" in curl) pkgs+=(curl ca-certificates) ;; tar) pkgs+=(tar) ;; *) pkgs+=(coreutils) ;; esac
  done
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup-chdb: need root or sudo to install ${pkgs[*]}" >&2; exit 1; }
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! "${SUDO[@]}" apt-get install -y --no-install-recommends "${pkgs[@]}"; then
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y --no-install-recommends "${pkgs[@]}"
  fi
fi

mkdir -p "$cache/chdb"
tmp="$(mktemp -d "$cache/chdb/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

name="${PKG#*/}"
url="$REGISTRY/$PKG/-/$name-$VERSION.tgz"
echo "setup-chdb: fetching $url" >&2
curl -fsSL --retry 3 --retry-delay 2 -o "$tmp/pkg.tgz" "$url"

want="$(printf '%s' "${INTEGRITY#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')"
got="$(sha512sum "$tmp/pkg.tgz" | cut -d' ' -f1)"
if [ "$got" != "$want" ]; then
  echo "setup-chdb: checksum mismatch for $url" >&2
  echo "  want sha512 $want" >&2
  echo "  got  sha512 $got" >&2
  exit 1
fi

mkdir -p "$tmp/x"
tar -xzf "$tmp/pkg.tgz" -C "$tmp/x"
lib="$(find "$tmp/x" -name 'libchdb.so' -type f | head -n1)"
if [ -z "$lib" ]; then
  echo "setup-chdb: libchdb.so not found in $url" >&2
  exit 1
fi
mkdir -p "$tmp/out"
mv "$lib" "$tmp/out/libchdb.so"
[ -f "$tmp/x/package/package.json" ] && cp "$tmp/x/package/package.json" "$tmp/out/package.json"
echo "$INTEGRITY" >"$tmp/out/.verified"
rm -rf "$dest"
mv "$tmp/out" "$dest"
echo "setup-chdb: installed $dest/libchdb.so ($(du -h "$dest/libchdb.so" | cut -f1))" >&2
