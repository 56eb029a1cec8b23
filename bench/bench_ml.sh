#!/bin/sh
# The readmission models' benchmark (issue: feature build and training
# time for 100,000 stays; AUROC of each model beside LACE and HOSPITAL on
# the test split, and the best AUROC reachable on that cohort: the
# generator's own true risk as the score, on the same stays).
#   bench/bench_ml.sh /path/to/carelake [PATIENTS]
# PATIENTS (default 36000 over 3 years: about 100,000 stays with the
# emergency visits) for `carelake generate --cohort`.
set -eu
bin=$1
patients=${2:-36000}
dir=build/bench-ml
rm -rf "$dir"
mkdir -p "$dir"

now() { date +%s.%N; }
t0=$(now)
"$bin" generate --cohort --patients "$patients" --years 3 --seed 1 --out "$dir/cohort" >/dev/null
t1=$(now)
"$bin" ingest --data "$dir/data" --log-level debug "$dir/cohort/fhir" >/dev/null 2>"$dir/ingest.log"
t2=$(now)
stays=$("$bin" query --data "$dir/data" --format csv \
	"SELECT count(*) FROM gold_readmission_features" 2>/dev/null | tail -1)
feature_ms=$(grep 'table=gold_readmission_features' "$dir/ingest.log" | tail -1 |
	sed 's/.* ms=\([0-9.]*\).*/\1/')
t3=$(now)
"$bin" model train readmission --data "$dir/data" --format json \
	--predictions "$dir/predictions.csv" >"$dir/report.json"
t4=$(now)
echo "ml       cohort of $patients patients over 3 years: generated in $(echo "$t1 - $t0" | bc) s," \
	"loaded into silver and gold in $(echo "$t2 - $t1" | bc) s; $stays stays"
echo "         feature table (gold_readmission_features) built in $(echo "$feature_ms / 1000" | bc -l |
	cut -c1-6) s ($(printf '%.0f' "$(echo "$stays / ($feature_ms / 1000)" | bc -l)") stays/s);" \
	"training (logistic + XGBoost, 300 rounds) and validation in $(echo "$t4 - $t3" | bc) s"

# scikit-learn from Debian (the python3 first on PATH may be another)
py=${CARELAKE_PYTHON:-}
for p in $py python3 /usr/bin/python3; do
	if "$p" -c 'import sklearn' 2>/dev/null; then py=$p; break; fi
done
"$py" - "$dir/report.json" "$dir/predictions.csv" "$dir/cohort/readmission-truth.csv" <<'EOF'
import csv, json, sys
from sklearn.metrics import roc_auc_score
report = json.load(open(sys.argv[1]))
m = report["metrics"]
c = report["cohort"]
print("         test split: %d stays (%d readmitted); AUROC logistic %.3f, xgboost %.3f, "
      "LACE %.3f, HOSPITAL %.3f (all test stays)" % (c["test"], c["test_readmitted"],
      m["logistic"]["auroc"], m["xgboost"]["auroc"], m["lace"]["auroc"], m["hospital"]["auroc"]))
truth = {r["stay_id"]: float(r["observable_risk"]) for r in csv.DictReader(open(sys.argv[3]))}
rows = [r for r in csv.DictReader(open(sys.argv[2])) if r["stay_id"] in truth]
y = [int(r["readmitted_30d"]) for r in rows]
auc = lambda k: roc_auc_score(y, [float(r[k]) for r in rows])
best = roc_auc_score(y, [truth[r["stay_id"]] for r in rows])
print("         on the %d test stays the generator drew a risk for (admissions): its risk "
      "from what the records tell %.3f (the best reachable); logistic %.3f (%.3f below), xgboost %.3f (%.3f below), "
      "LACE %.3f, HOSPITAL %.3f   goal: beat both, within 0.02 of the best"
      % (len(rows), best, auc("logistic"), best - auc("logistic"), auc("xgboost"),
         best - auc("xgboost"), auc("lace"), auc("hospital")))
EOF

# scoring: the promoted version over every stay, as serving does it (the
# model that serves, fed as in training), without and with the top
# contributing features
"$bin" model promote v1 --data "$dir/data" >/dev/null
for explain in "" --explain; do
	"$bin" model score readmission --data "$dir/data" --stays all $explain \
		--out "$dir/scores.csv" 2>"$dir/score.err"
	echo "         scoring${explain:+ with the top contributing features}" \
		"($(sed 's/.*"model": "\([a-z]*\)".*/\1/;t;d' "$dir/data/models/readmission/v1/model.json" |
		head -1)): $(sed 's/^scored //' "$dir/score.err")"
done

# the treatment insights over every index stay, adjusted for the promoted
# model's risk
t5=$(now)
"$bin" model insights readmission --data "$dir/data" --format json >"$dir/insights.json"
t6=$(now)
echo "         treatment insights: $(grep -c '"treatment"' "$dir/insights.json") treatments" \
	"compared over the index stays in $(echo "$t6 - $t5" | bc) s"
