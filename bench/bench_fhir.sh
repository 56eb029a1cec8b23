#!/bin/bash
# FHIR search over a million observations: requests/s and latency of
#   GET /fhir/Observation?patient=Patient/pN&code=http://loinc.org|8867-4
#       &date=ge2026-06-01&_count=100
# for random patients, answered by `carelake serve` to wrk (2 connections,
# then 8), beside the same search run directly in SQLite over the same
# carelake.db by bench_fhir_sql (the statement carelake's store makes,
# no HTTP, no JSON; one connection per core), in the same run. Target:
# carelake at least 0.5x the bare query's rate.
#
# Then a Bulk Data $export of all 1,101,001 resources, kick-off to
# manifest: resources written per second (target: at least 200,000/s),
# and one NDJSON file read back whole through the API.
#
# And a patient with 100,000 observations: its $everything read page by
# page (_count=1000) to the end, every resource once.
#
# Also reported: how fast `carelake ingest` took the 1,101,001 resources
# (versions and search keys included).
#   bench/bench_fhir.sh [path/to/carelake] [path/to/bench_fhir_sql] [seconds]
set -eu
bin=${1:-build/carelake}
sql=${2:-build/bench/bench_fhir_sql}
secs=${3:-5}
patients=1000
per=1000
work=$(mktemp -d "${TMPDIR:-/tmp}/carelake-bench-fhir-XXXXXX")
trap 'kill $srv 2>/dev/null || true; rm -rf "$work"' EXIT

# 1,000 patients, 1,000 vital-sign observations each over 2026 (five codes
# in turn), and one more patient with 100,000 (for $everything), as NDJSON
python3 - "$work/bulk.ndjson" $patients $per <<'PY'
import sys, time
path, patients, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
big = 100000
codes = [("8867-4", 72, "/min"), ("59408-5", 97, "%"), ("9279-1", 16, "/min"),
         ("8310-5", 37.1, "Cel"), ("8480-6", 120, "mm[Hg]")]
step = 365 * 86400 // per
with open(path, "w") as f:
    for p in range(patients):
        f.write('{"resourceType":"Patient","id":"p%d","gender":"%s","birthDate":"19%02d-0%d-1%d",'
                '"name":[{"family":"Bench%d","given":["P"]}]}\n'
                % (p, "female" if p % 2 else "male", 30 + p % 60, 1 + p % 9, p % 10, p))
        for i in range(per):
            c, v, u = codes[i % len(codes)]
            t = 1767225600 + i * step + p
            d = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
            f.write('{"resourceType":"Observation","id":"o%d-%d","status":"final",'
                    '"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/'
                    'observation-category","code":"vital-signs"}]}],'
                    '"code":{"coding":[{"system":"http://loinc.org","code":"%s"}]},'
                    '"subject":{"reference":"Patient/p%d"},"effectiveDateTime":"%s",'
                    '"valueQuantity":{"value":%s,"unit":"%s","system":"http://unitsofmeasure.org",'
                    '"code":"%s"}}\n' % (p, i, c, p, d, v, u, u))
    f.write('{"resourceType":"Patient","id":"pbig","gender":"female","birthDate":"1950-01-01"}\n')
    for i in range(big):
        c, v, u = codes[i % len(codes)]
        d = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1767225600 + i * 300))
        f.write('{"resourceType":"Observation","id":"big-%d","status":"final",'
                '"code":{"coding":[{"system":"http://loinc.org","code":"%s"}]},'
                '"subject":{"reference":"Patient/pbig"},"effectiveDateTime":"%s",'
                '"valueQuantity":{"value":%s,"unit":"%s","system":"http://unitsofmeasure.org",'
                '"code":"%s"}}\n' % (i, c, d, v, u, u))
PY
resources=$((patients + patients * per + 1 + 100000))

t0=$(date +%s.%N)
"$bin" ingest --data "$work/data" "$work/bulk.ndjson" > "$work/ingest.out" 2>&1
t1=$(date +%s.%N)
python3 -c "print('ingest   %d FHIR resources in %.1f s: %.0f resources/s (versions and search keys included)' % ($resources, $t1 - $t0, $resources / ($t1 - $t0)))"

"$bin" serve --data "$work/data" --listen 127.0.0.1:0 --log-level warn > "$work/serve.out" 2>&1 &
srv=$!
for i in $(seq 200); do
	grep -q "listening on" "$work/serve.out" 2>/dev/null && break
	sleep 0.05
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/serve.out")
token=$(cat "$work/data/admin.token")

cat > "$work/search.lua" <<LUA
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
	local p = math.random(0, $patients - 1)
	return wrk.format("GET", "/fhir/Observation?patient=Patient/p" .. p ..
		"&code=http://loinc.org%7C8867-4&date=ge2026-06-01&_count=100", {
		["Authorization"] = "Bearer " .. os.getenv("TOKEN") })
end
LUA

# one search first: it must find a page of 100
first=$(curl -s -H "Authorization: Bearer $token" \
	"$url/fhir/Observation?patient=Patient/p7&code=http://loinc.org%7C8867-4&date=ge2026-06-01&_count=100")
python3 -c "
import json, sys
b = json.loads(sys.argv[1])
n, total = len(b.get('entry', [])), b.get('total')
print('search   one answer: %d entries, total %s' % (n, total))
sys.exit(0 if n == 100 and total and total > 100 else 1)" "$first"

# the bare query: the same statement over the same carelake.db
"$sql" "$work/data/carelake.db" $patients "$secs"

for conns in 2 8; do
	TOKEN=$token wrk -t2 -c$conns -d"${secs}s" --latency -s "$work/search.lua" "$url" > "$work/wrk.out" 2>&1
	rate=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$work/wrk.out")
	p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.out")
	p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.out")
	errors=$(grep -c "Non-2xx" "$work/wrk.out" || true)
	echo "carelake $conns connections: $rate searches/s, p50 $p50, p99 $p99 (non-2xx lines: $errors)"
done

# Bulk Data export of everything: kick-off to manifest
t0=$(date +%s.%N)
status=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $token" -H "Prefer: respond-async" \
	"$url/fhir/\$export" | sed -n 's/^Content-Location: *\([^\r]*\).*/\1/p' | tr -d '\r')
while :; do
	code=$(curl -s -o "$work/manifest.json" -w '%{http_code}' -H "Authorization: Bearer $token" "$status")
	[ "$code" = 200 ] && break
	[ "$code" = 202 ] || { echo "export status $code"; exit 1; }
	sleep 0.05
done
t1=$(date +%s.%N)
python3 - "$work/manifest.json" "$t0" "$t1" $resources <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
n = sum(o["count"] for o in m["output"])
secs = float(sys.argv[3]) - float(sys.argv[2])
print("export   %d resources in %.2f s: %.0f resources/s (%s)" % (
    n, secs, n / secs, ", ".join("%s %d" % (o["type"], o["count"]) for o in m["output"])))
sys.exit(0 if n == int(sys.argv[4]) and not m["error"] else 1)
PY
file=$(python3 -c "import json,sys; print([o['url'] for o in json.load(open(sys.argv[1]))['output'] if o['type']=='Observation'][0])" "$work/manifest.json")
t0=$(date +%s.%N)
bytes=$(curl -s -H "Authorization: Bearer $token" "$file" | wc -c)
t1=$(date +%s.%N)
python3 -c "print('export   Observation.ndjson read back: %d MB in %.2f s' % ($bytes / 1e6, $t1 - $t0))"

# $everything of the patient with 100,000 observations, paged to the end
python3 - "$url" "$token" <<'PY'
import json, sys, time, urllib.request
url, token = sys.argv[1], sys.argv[2]
nxt, seen, pages, t0 = url + "/fhir/Patient/pbig/$everything?_count=1000", set(), 0, time.time()
worst = 0
while nxt:
    t = time.time()
    req = urllib.request.Request(nxt, headers={"Authorization": "Bearer " + token})
    b = json.load(urllib.request.urlopen(req))
    worst = max(worst, time.time() - t)
    pages += 1
    for e in b.get("entry", []):
        k = e["resource"]["resourceType"] + "/" + e["resource"]["id"]
        assert k not in seen, k
        seen.add(k)
    nxt = next((l["url"] for l in b.get("link", []) if l["relation"] == "next"), None)
secs = time.time() - t0
print("everything %d resources in %d pages of 1000 in %.2f s: %.0f resources/s, slowest page %.1f ms"
      % (len(seen), pages, secs, len(seen) / secs, worst * 1000))
sys.exit(0 if len(seen) == 100001 else 1)
PY
