#!/bin/sh
# Installs the Debian packages carelake needs to build, test and benchmark.
# Idempotent and quiet when everything is already present.
#   scripts/deps.sh          build + test dependencies
#   scripts/deps.sh bench    also what the benchmarks compare against
set -eu

PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev \
libcmocka-dev libjansson-dev libyaml-dev libjson-c-dev \
libsodium-dev libmicrohttpd-dev libcurl4-openssl-dev mosquitto libsqlite3-dev libzip-dev libxml2-dev \
libzstd-dev libsnappy-dev liblz4-dev zlib1g-dev libssl-dev openssl nodejs chromium \
libxgboost-dev python3-sklearn librdkafka-dev"

if [ "${1:-}" = bench ]; then
	PKGS="$PKGS nginx-light wrk python3 bc"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	echo "carelake: installing Debian packages:$missing" >&2
	SUDO=""
	if [ "$(id -u)" != 0 ]; then
		SUDO="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# uPlot from npm: the dashboards' time-series charts, built into the binary
# (CMakeLists.txt embeds web/node_modules/uplot/dist). Pinned by
# web/package.json and its lock file; npm ci installs exactly that.
here=$(dirname "$0")/..
if [ ! -f "$here/web/node_modules/uplot/dist/uPlot.iife.min.js" ]; then
	echo "carelake: installing uPlot for the dashboards (npm ci in web)" >&2
	npm ci --prefix "$here/web" --no-audit --no-fund --loglevel=error >/dev/null
fi

# playwright-core and axe-core from npm: the browser test drives Debian's
# chromium (installed above; playwright-core downloads no browser) and
# checks the pages' accessibility (runtime_web_browser).
if [ ! -d "$here/tests/browser/node_modules/playwright-core" ] ||
   [ ! -d "$here/tests/browser/node_modules/axe-core" ]; then
	echo "carelake: installing playwright-core and axe-core for the tests (npm ci in tests/browser)" >&2
	npm ci --prefix "$here/tests/browser" --no-audit --no-fund --loglevel=error >/dev/null
fi

# DuckDB from npm: the independent reader the tests check carelake's
# Parquet files and Delta tables against, and the benchmarks' baseline.
if [ ! -d "$here/tests/duckdb/node_modules/@duckdb/node-api" ]; then
	echo "carelake: installing DuckDB for the tests (npm install in tests/duckdb)" >&2
	# `npm ci` refuses this lock file (npm leaves the other platforms'
	# optional bindings out of it); the version is pinned exactly in
	# package.json, and install keeps the lock as it is
	npm install --prefix "$here/tests/duckdb" --no-audit --no-fund --loglevel=error >/dev/null
fi

# fhir-kit-client from npm: a real FHIR R4 client, driven against
# carelake's FHIR API (runtime_fhir_read).
if [ ! -d "$here/tests/fhirclient/node_modules/fhir-kit-client" ]; then
	echo "carelake: installing fhir-kit-client for the tests (npm install in tests/fhirclient)" >&2
	npm install --prefix "$here/tests/fhirclient" --no-audit --no-fund --loglevel=error >/dev/null
fi

# @medplum/fhir-router from npm: an independent FHIR search implementation
# whose results carelake's are compared with (runtime_fhir_search).
if [ ! -d "$here/tests/fhirsearch/node_modules/@medplum/fhir-router" ]; then
	echo "carelake: installing @medplum/fhir-router for the tests (npm install in tests/fhirsearch)" >&2
	npm install --prefix "$here/tests/fhirsearch" --no-audit --no-fund --loglevel=error >/dev/null
fi

# jose from npm: an independent JOSE implementation that makes the keys and
# signs the OpenID Connect tokens the tests send (runtime_jwt).
if [ ! -d "$here/tests/jose/node_modules/jose" ]; then
	echo "carelake: installing jose for the tests (npm install in tests/jose)" >&2
	npm install --prefix "$here/tests/jose" --no-audit --no-fund --loglevel=error >/dev/null
fi

# Azurite and s3rver from npm: the Azure Blob and S3 emulators the object
# storage client is tested against (runtime_objstore). Pinned by
# tests/objstore/package.json and its lock file.
if [ ! -d "$here/tests/objstore/node_modules/azurite" ] ||
   [ ! -d "$here/tests/objstore/node_modules/s3rver" ]; then
	echo "carelake: installing azurite and s3rver for the tests (npm ci in tests/objstore)" >&2
	npm ci --prefix "$here/tests/objstore" --no-audit --no-fund --loglevel=error >/dev/null
fi
