#!/bin/sh
# Installs the Debian packages carelake needs to build, test and benchmark.
# Idempotent and quiet when everything is already present.
#   scripts/deps.sh          build + test dependencies
#   scripts/deps.sh bench    also what the benchmarks compare against
set -eu

PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev \
libcmocka-dev libjansson-dev libyaml-dev libjson-c-dev \
libsodium-dev libmicrohttpd-dev libcurl4-openssl-dev mosquitto libsqlite3-dev libzip-dev libxml2-dev"

if [ "${1:-}" = bench ]; then
	PKGS="$PKGS nginx-light wrk python3"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "carelake: installing Debian packages:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
