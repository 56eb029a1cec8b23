#!/bin/bash
# The cost of the audit trail on a read: requests/s of
# GET /api/v1/patients/{id}/vitals (admin token, 60 stored values) with
# audit.enabled=1 — every reply held until its record is durable, records
# of concurrent requests sharing one fdatasync — against the same server
# with audit.enabled=0, in the same run, driven by wrk with the same
# connections. Target: audit on at least 0.8x audit off.
#   bench/bench_audit_serve.sh [path/to/carelake] [seconds] [connections]
set -eu
bin=${1:-build/carelake}
secs=${2:-5}
conns=${3:-32}
work=$(mktemp -d "${TMPDIR:-/tmp}/carelake-bench-audit-XXXXXX")
srv=
trap 'if [ -n "$srv" ]; then kill $srv 2>/dev/null || true; fi; rm -rf "$work"' EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# one run: prints requests/s
run() {
	local enabled=$1 data="$work/data-$1" port tok body rps
	port=$(free_port)
	CARELAKE_KEYS="$work/keys" "$bin" serve --data "$data" --listen "127.0.0.1:$port" \
		--log-level warn --set "audit.enabled=$enabled" >"$work/serve-$enabled.log" 2>&1 &
	srv=$!
	for _ in $(seq 100); do [ -s "$data/admin.token" ] && curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
	tok=$(cat "$data/admin.token")
	body=""
	for i in $(seq 60); do
		body="$body{\"device_id\":\"d-1\",\"patient_id\":\"p-1\",\"ts\":\"$(date -u -d "-$i sec" +%Y-%m-%dT%H:%M:%SZ)\",\"type\":\"heart_rate\",\"value\":$((60 + i)),\"unit\":\"/min\"}"$'\n'
	done
	curl -sf -H "Authorization: Bearer $tok" -H 'Content-Type: application/x-ndjson' \
		--data-binary "$body" "127.0.0.1:$port/api/v1/events" >/dev/null
	sleep 1
	rps=$(wrk -t2 -c"$conns" -d"${secs}s" -H "Authorization: Bearer $tok" \
		"http://127.0.0.1:$port/api/v1/patients/p-1/vitals" | awk '/Requests\/sec/ {print $2}')
	kill $srv; wait $srv 2>/dev/null || true
	srv=
	echo "$rps"
}

off=$(run 0)
on=$(run 1)
records=$(cat "$work"/data-1/audit/audit-*.jsonl | grep -c '"kind":"event"' || true)
values=$(grep -m1 -o '"count":[0-9]*' "$work"/data-1/audit/audit-000001.jsonl | cut -d: -f2)
echo "vitals GET, $conns connections, ${secs}s each:"
printf '  audit off  %10.0f req/s\n' "$off"
printf '  audit on   %10.0f req/s  (%s records, %s values a reply)\n' "$on" "$records" "$values"
awk -v a="$on" -v b="$off" 'BEGIN { printf "  ratio      %10.2fx (target >= 0.8x)\n", a / b }'
