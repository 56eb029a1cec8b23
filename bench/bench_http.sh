#!/bin/bash
# Single-event POSTs: requests/s of `carelake serve` (each answer waits for
# the event to be durable; concurrent requests share fdatasyncs) beside
# nginx answering a POST to a static location, both driven by wrk with the
# same connections on this machine, in the same run. Target: carelake at
# least 0.6x nginx.
#
# Then where the two cores went, from /proc: the CPU time per request of
# wrk, of nginx and of each carelake thread, and the budget the target
# leaves: at 0.6x nginx's rate the two cores give 2 / (0.6 x rate) seconds
# per request, of which wrk takes its share, whoever answers.
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

# CPU ticks (user + system) of every thread of the given processes, one
# "name ticks" line each
ticks() {
	for p in "$@"; do
		for t in /proc/"$p"/task/*; do
			# the name is in parentheses and may hold spaces
			sed 's/^[^(]*(\(.*\)) \(.*\)$/\1\t\2/' "$t/stat" 2>/dev/null
		done
	done | awk -F '\t' '{ split($2, f, " "); print $1 "\t" f[12] + f[13] }'
}
hz=$(getconf CLK_TCK)

# run URL NAME: wrk's requests/s on stdout; the requests it made in
# $work/NAME.n, its own CPU seconds in $work/NAME.wrk
run() {
	local out
	out=$( { TIMEFORMAT='%U %S'; time NONCE=$(date +%s%N) TOKEN=$token \
		wrk -t2 -c64 -d"${secs}s" -s "$work/post.lua" "$1" 2>&1; } 2>&1)
	echo "$out" | awk -v n="$work/$2.n" -v cpu="$work/$2.wrk" '
		/Non-2xx/ { print "non2xx " $NF > "/dev/stderr" }
		/ requests in / { print $1 > n }
		NF == 2 && $1 ~ /^[0-9.]+$/ { print $1 + $2 > cpu }
		/Requests\/sec/ { print $2 }'
}
sleep 0.3
ngx_pids="$ngx $(pgrep -P "$ngx" | tr '\n' ' ')"
ticks $ngx_pids > "$work/nginx.before"
n_rps=$(run "http://127.0.0.1:$nport" nginx)
ticks $ngx_pids > "$work/nginx.after"
ticks "$srv" > "$work/carelake.before"
c_rps=$(run "$url" carelake)
ticks "$srv" > "$work/carelake.after"
echo "single-event POSTs, wrk -t2 -c64 ${secs}s on this machine:"
echo "  nginx (static answer)       $n_rps requests/s"
echo "  carelake (durable, stored)  $c_rps requests/s"
curl -s "$url/metrics" | awk '/^carelake_events_accepted_total/ {a=$2}
	/^carelake_events_duplicate_total/ {d=$2}
	END {printf "  carelake stored %d events, %d answered as duplicates\n", a, d}'
awk -v c="$c_rps" -v n="$n_rps" 'BEGIN { printf "  ratio carelake/nginx        %.2fx   target >= 0.60x\n", c / n }'

# CPU per request: ticks (summed by thread name) over the requests made
per_req() { # before after requests
	awk -F '\t' -v hz="$hz" -v n="$3" 'NR == FNR { b[$1] += $2; next } { a[$1] += $2 }
		END { for (k in a) if (a[k] - b[k] > 0) printf "%s\t%.1f\n", k, (a[k] - b[k]) / hz * 1e6 / n }' \
		"$1" "$2" | sort -t "$(printf '\t')" -k2 -rn
}
n_req=$(cat "$work/nginx.n")
c_req=$(cat "$work/carelake.n")
per_req "$work/nginx.before" "$work/nginx.after" "$n_req" > "$work/nginx.cpu"
per_req "$work/carelake.before" "$work/carelake.after" "$c_req" > "$work/carelake.cpu"
awk -v n_rps="$n_rps" -v n_req="$n_req" -v c_req="$c_req" \
    -v n_wrk="$(cat "$work/nginx.wrk")" -v c_wrk="$(cat "$work/carelake.wrk")" \
    -v cpus="$(nproc)" -F '\t' '
	NR == FNR { ngx += $2; next }
	{ cl += $2; thr = thr sprintf("%s %.1f, ", $1, $2) }
	END {
		wn = n_wrk * 1e6 / n_req; wc = c_wrk * 1e6 / c_req
		w = wn < wc ? wn : wc   # the cheaper wrk: the most room for the server
		budget = cpus * 1e6 / (0.6 * n_rps)
		printf "CPU per request (us), from /proc:\n"
		printf "  wrk      %.1f driving nginx, %.1f driving carelake\n", wn, wc
		printf "  nginx    %.1f\n", ngx
		printf "  carelake %.1f: %s\n", cl, substr(thr, 1, length(thr) - 2)
		printf "  budget at 0.6x nginx: %d cores / %.0f requests/s = %.1f a request; less wrk" \
		       " (%.1f) leaves %.1f for the server, %.1f beyond what nginx'"'"'s static answer" \
		       " costs\n", cpus, 0.6 * n_rps, budget, w, budget - w, budget - w - ngx
	}' "$work/nginx.cpu" "$work/carelake.cpu"
