#!/bin/bash
# Kafka ingest: device events/s that `carelake serve` consumes from a topic
# into bronze (durable, offsets committed after), beside the HTTP batched
# ingest rate (bench_serve's ingest: 1,000-event NDJSON bodies) measured
# in the same run on this machine; then two nodes in one consumer group
# over the same volume (the scaling factor), and the rate at which a node
# taking over partitions replays their records into its stream state.
#
# The broker is librdkafka's mock cluster (bench_kafka_mock, on loopback,
# on the same two cores as carelake): N events (default 1,000,000), one
# per record, 1,000 patients keyed over one partition per 20,000 events
# (the mock cluster keeps only about 5 MB of each partition's log, and
# drops the oldest beyond), produced before the clock starts. A rate is counted from the first record stored to the last
# (carelake_events_accepted_total in /metrics), so the group's join delay
# is not in it. Stream processing (windows, NEWS2, rules) runs as usual.
#   bench/bench_kafka.sh [path/to/carelake] [path/to/bench_kafka_mock] [path/to/bench_serve]
# N=... in the environment changes the volume.
set -eu
bin=${1:-build/carelake}
mock=${2:-build/bench/bench_kafka_mock}
bench_serve=${3:-build/bench/bench_serve}
n=${N:-1000000}
parts=$(( (n + 19999) / 20000 ))
[ "$parts" -ge 4 ] || parts=4
work=$(mktemp -d "${TMPDIR:-/tmp}/carelake-bench-kafka-XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	exec 3>&- 2>/dev/null || true
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }

# the HTTP batched rate first, while nothing else runs
http=$([ -n "${SKIP_HTTP:-}" ] && echo 1 || "$bench_serve" "$bin" --only ingest --seconds 5 2>/dev/null |
	awk '/target >= 500,000/ { print $2 }')

# the broker, kept up while its input is open
mkfifo "$work/mock.in"
"$mock" "$n" "$parts" 1000 < "$work/mock.in" > "$work/mock.out" 2>&1 &
pids+=($!)
exec 3> "$work/mock.in"
for i in $(seq 1200); do
	grep -q '^produced' "$work/mock.out" && break
	sleep 0.1
done
grep -q '^produced' "$work/mock.out" || { cat "$work/mock.out"; exit 1; }
boot=$(awk '/^bootstrap/ { print $2 }' "$work/mock.out")

# start NAME GROUP: a node consuming the topic in GROUP; its URL in $work/NAME.url
start() {
	"$bin" serve --data "$work/$1" --listen 127.0.0.1:0 --log-level "${LOG_LEVEL:-warn}" \
		--set "kafka.brokers=$boot" --set kafka.topics=vitals --set "kafka.group=$2" \
		--set kafka.session_timeout=6s > "$work/$1.out" 2>&1 &
	pids+=($!)
	echo $! > "$work/$1.pid"
	for i in $(seq 200); do
		grep -q "listening on" "$work/$1.out" 2>/dev/null && break
		sleep 0.05
	done
	sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/$1.out" > "$work/$1.url"
}

stop() {
	kill "$(cat "$work/$1.pid")" 2>/dev/null || true
	while kill -0 "$(cat "$work/$1.pid")" 2>/dev/null; do sleep 0.05; done
}

# metric NAME METRIC: its value on that node (0 if absent)
metric() {
	curl -s "$(cat "$work/$1.url")/metrics" |
		awk -v m="$2" '$1 == m { v = $2 } END { printf "%d\n", v + 0 }'
}

# ready NODE...: 1 once every node holds partitions (the group settled)
ready() {
	for node in "$@"; do
		[ "$(metric "$node" carelake_kafka_assigned_partitions)" -gt 0 ] || { echo 0; return; }
	done
	echo 1
}

# rate NODE...: events/s stored by the nodes together, from the first
# event stored once every node holds partitions to the n-th
rate() {
	local t_first="" got=0 first=0
	for i in $(seq 3000); do
		got=0
		for node in "$@"; do
			got=$((got + $(metric "$node" carelake_events_accepted_total)))
		done
		if [ -z "$t_first" ] && [ "$got" -gt 0 ] && [ "$(ready "$@")" = 1 ]; then
			t_first=$(now)
			first=$got
		fi
		[ "$got" -ge "$n" ] && break
		[ $((i % 50)) = 0 ] && [ -n "${VERBOSE:-}" ] && echo "  $*: $got stored" >&2
		sleep 0.1
	done
	[ "$got" -ge "$n" ] || { echo "only $got of $n events stored" >&2; exit 1; }
	awk -v a="$t_first" -v b="$(now)" -v e=$((n - first)) 'BEGIN { printf "%.0f\n", e / (b - a) }'
}

start one g1
one=$(rate one)
stop one

start a g2
start b g2
two=$(rate a b)
share_a=$(metric a carelake_events_accepted_total)
rebalances=$(( $(metric a carelake_kafka_rebalances_total) + $(metric b carelake_kafka_rebalances_total) ))
stop a
stop b

# a node joining g1 (whose offsets are all committed) takes over its
# partitions: it replays their records of the last kafka.rebuild_window
# into its stream before consuming
start r g1
for i in $(seq 1200); do
	[ "$(metric r carelake_kafka_rebuilds_total)" -ge "$parts" ] && break
	sleep 0.1
done
rebuilt=$(metric r carelake_kafka_rebuilt_total)
rebuild_us=$(metric r carelake_kafka_rebuild_microseconds_total)
stop r

echo "Kafka ingest from librdkafka's mock cluster ($(sed -n 's/^produced //p' "$work/mock.out"), $parts partitions), this machine:"
echo "  HTTP batched (bench_serve ingest)   $http events/s"
echo "  Kafka, one node                     $one events/s"
awk -v k="$one" -v h="$http" 'BEGIN { printf "  ratio Kafka/HTTP batched            %.2fx\n", k / h }'
echo "  Kafka, two nodes in one group       $two events/s (node a stored $share_a of $n; $rebalances rebalance callbacks)"
awk -v a="$two" -v b="$one" 'BEGIN { printf "  scaling two nodes/one               %.2fx\n", a / b }'
awk -v r="$rebuilt" -v u="$rebuild_us" 'BEGIN {
	printf "  takeover replay into stream state   %.0f records/s (%d records in %.2f s)\n",
		(u > 0 ? r / (u / 1e6) : 0), r, u / 1e6 }'
