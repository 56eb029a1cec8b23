#!/bin/sh
# The lake on object storage beside the local directory, in one run
# (issue: lake commit and refine throughput to Azurite/s3rver beside the
# local directory): Delta commits per second, and a load of a generated
# hospital refined into silver and gold with its Delta tables written to
# each place, then rebuilt (refine --rebuild rewrites every table).
#   bench/bench_lake_objstore.sh /path/to/carelake [PATIENTS] [COMMITS]
# Azurite and s3rver come from tests/objstore (npm); both run on this
# machine, so the figures are this machine's emulators', not a cloud's.
set -eu
bin=$1
patients=${2:-20000}
commits=${3:-200}
here=$(cd "$(dirname "$0")/.." && pwd)
store=$(dirname "$bin")/bench/bench_lake_store
dir=$(pwd)/build/bench-lake-objstore
rm -rf "$dir"
mkdir -p "$dir/azurite" "$dir/s3rver"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
az=$(port)
s3=$(port)
"$here/tests/objstore/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$az" \
	--location "$dir/azurite" --silent --skipApiVersionCheck --disableTelemetry \
	>"$dir/azurite.log" 2>&1 &
azpid=$!
node "$here/tests/objstore/s3rver.js" "$s3" "$dir/s3rver" >"$dir/s3rver.log" 2>&1 &
s3pid=$!
trap 'kill $azpid $s3pid 2>/dev/null || true' EXIT INT TERM
for p in $az $s3; do
	i=0
	until python3 -c "import socket; socket.create_connection(('127.0.0.1',$p),1)" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 300 ] || { echo "an emulator did not start" >&2; exit 1; }
		sleep 0.1
	done
done
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$az/devstoreaccount1;"
export AWS_ENDPOINT_URL="http://127.0.0.1:$s3" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER \
	AWS_REGION=us-east-1

now() { date +%s.%N; }
"$bin" generate --out "$dir/gen" --patients "$patients" --seed 1 >/dev/null

# name, lake.uri ("" for the data directory), extra setting
run() {
	name=$1 uri=$2 extra=$3
	# shellcheck disable=SC2086
	c=$("$store" "${uri:-$dir/local-commits}" "$commits" "$dir/staging" ${extra#--set } 2>&1 |
		grep -v '^ts=') || { echo "lake     $name: $c" >&2; exit 1; }
	t0=$(now)
	# shellcheck disable=SC2086
	"$bin" ingest --data "$dir/$name" --set lake.uri="$uri" $extra --json "$dir/gen" \
		>"$dir/$name.ingest.json"
	t1=$(now)
	# shellcheck disable=SC2086
	"$bin" refine --data "$dir/$name" --set lake.uri="$uri" $extra --rebuild --json \
		>"$dir/$name.rebuild.json"
	t2=$(now)
	rows=$("$bin" query --data "$dir/$name" --format csv \
		"SELECT sum(n) FROM (SELECT count(*) n FROM patient UNION ALL SELECT count(*) FROM encounter
		 UNION ALL SELECT count(*) FROM observation UNION ALL SELECT count(*) FROM staff
		 UNION ALL SELECT count(*) FROM shift UNION ALL SELECT count(*) FROM booking)" | tail -1)
	load=$(printf '%.2f' "$(echo "$t1 - $t0" | bc)")
	rebuild=$(printf '%.2f' "$(echo "$t2 - $t1" | bc)")
	eval "load_$name=$load rebuild_$name=$rebuild commits_$name=${c%% commits/s*}"
	echo "lake     $name: $c"
	echo "         $name: load of $patients patients ($rows silver rows) into silver, gold and the" \
		"Delta tables in $load s ($(printf '%.0f' "$(echo "$rows / $load" | bc -l)") rows/s);" \
		"refine --rebuild in $rebuild s ($(printf '%.0f' "$(echo "$rows / $rebuild" | bc -l)") rows/s)"
}
run local "" ""
run azurite "az://lake/bench" ""
run s3rver "s3://lake/bench" "--set lake.single_writer=1"
for n in azurite s3rver; do
	eval "l=\$load_$n r=\$rebuild_$n"
	echo "         $n vs local: load $(echo "scale=2; $load_local / $l" | bc)x," \
		"rebuild $(echo "scale=2; $rebuild_local / $r" | bc)x the local directory's speed;" \
		"commits $(echo "scale=3; $(eval echo \$commits_$n) / $commits_local" | bc)x"
done
