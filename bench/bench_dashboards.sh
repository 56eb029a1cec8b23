#!/bin/bash
# The dashboards in a real browser (bench/dashboards.mjs): the patient
# page drawing 7 days of 1-minute rollups (target < 500 ms), the ICU board
# for 100 patients from sign-in to every tile (target < 1 s), and the
# board keeping up with 100 patients at 1 Hz each (each reading's delay
# from its POST to its tile, p50/p99).
#   bench/bench_dashboards.sh [path/to/carelake] [seconds]
set -eu
bin=${1:-build/carelake}
secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/carelake-bench-web-XXXXXX")
srv=
trap 'kill $srv 2>/dev/null || true; rm -rf "$work"' EXIT

# no wall-clock flush of windows: the 7 days posted with past times all roll up
"$bin" serve --data "$work/data" --listen 127.0.0.1:0 --log-level warn \
	--set ingest.inputs=events,fhir --set stream.idle_flush=1h > "$work/serve.out" 2>&1 &
srv=$!
for _ in $(seq 100); do
	grep -q "listening on" "$work/serve.out" 2>/dev/null && break
	sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/serve.out")
admin=$(cat "$work/data/admin.token")
clin=$("$bin" token issue --data "$work/data" --role clinician --name bench-nurse 2>/dev/null |
	sed -n 's/^token //p')
node "$here/dashboards.mjs" "$url" "$clin" "$admin" "$secs"
