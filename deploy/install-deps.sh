#!/bin/sh
# Installs the Debian 12 packages cxbroker needs to build, test and run.
# Idempotent: does nothing when every package is already present.
# Needs root (or sudo) only when something is missing.
set -eu

PKGS="build-essential pkg-config
      libzmq3-dev libczmq-dev
      protobuf-c-compiler libprotobuf-c-dev
      liblmdb-dev lmdb-utils
      libjansson-dev libyaml-dev
      libcmocka-dev
      clang libclang-rt-14-dev"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: need root to install:$missing" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
