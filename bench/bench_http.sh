#!/bin/sh
# Single-event POSTs: requests/s of `carelake serve` (each answer waits for
# the event to be durable; concurrent requests share fdatasyncs) beside
# nginx answering a POST to a static location, both driven by wrk with the
# same connections on this machine, in the same run. Target: carelake at
# least 0.8x nginx.
#   bench/bench_http.sh [path/to/carelake] [seconds]
set -eu
bin=${1:-build/carelake}
secs=${2:-5}
work=$(mktemp -d "${TMPDIR:-/tmp}/carelake-bench-http-XXXXXX")
trap 'kill $srv $ngx 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# nginx: two workers (one per core), a static answer to POST
nport=$(free_port)
mkdir -p "$work/nginx/logs"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $work/nginx/body;
	server {
		listen 127.0.0.1:$nport;
		location /api/v1/events { return 200 '{"accepted":1,"duplicates":0,"rejected":[]}'; }
	}
}
CONF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" &
ngx=$!

"$bin" serve --data "$work/data" --listen 127.0.0.1:0 --log-level warn > "$work/serve.out" 2>&1 &
srv=$!
for i in $(seq 100); do
	grep -q "listening on" "$work/serve.out" 2>/dev/null && break
	sleep 0.05
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/serve.out")
token=$(cat "$work/data/admin.token")

# every request a new event id, so carelake stores each one: ids carry the
# run and wrk's thread (each thread runs its own copy of the script, with
# the same counter and the same random numbers)
cat > "$work/post.lua" <<'LUA'
local threads = 0
function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end
local n = 0
local nonce = os.getenv("NONCE") or "0"
request = function()
	n = n + 1
	local body = string.format('{"id":"w%s-%d-%d","device_id":"m1","patient_id":"p%d",' ..
		'"ts":"%s","type":"heart_rate","value":72,"unit":"/min"}',
		nonce, tid, n, n % 1000, os.date("!%Y-%m-%dT%H:%M:%SZ"))
	return wrk.format("POST", "/api/v1/events", {
		["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
		["Content-Type"] = "application/json" }, body)
end
LUA

run() {
	NONCE=$(date +%s%N) TOKEN=$token wrk -t2 -c64 -d"${secs}s" -s "$work/post.lua" "$1" 2>&1 |
		awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "non2xx " $NF > "/dev/stderr"}'
}
sleep 0.3
n_rps=$(run "http://127.0.0.1:$nport")
c_rps=$(run "$url")
echo "single-event POSTs, wrk -t2 -c64 ${secs}s on this machine:"
echo "  nginx (static answer)       $n_rps requests/s"
echo "  carelake (durable, stored)  $c_rps requests/s"
curl -s "$url/metrics" | awk '/^carelake_events_accepted_total/ {a=$2}
	/^carelake_events_duplicate_total/ {d=$2}
	END {printf "  carelake stored %d events, %d answered as duplicates\n", a, d}'
awk -v c="$c_rps" -v n="$n_rps" 'BEGIN { printf "  ratio carelake/nginx        %.2fx   target >= 0.80x\n", c / n }'
