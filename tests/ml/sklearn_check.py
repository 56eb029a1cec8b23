#!/usr/bin/env python3
"""scikit-learn as the independent reference for carelake's src/ml.

usage: sklearn_check.py DATA.csv RESULTS.json

DATA.csv has a header and one row per example: the label (0 or 1), then
the features exactly as carelake fitted them. RESULTS.json holds what
carelake computed from them (tests/unit/test_ml_sklearn.c writes both):
C, intercept, coef, the predicted probabilities (scores), and the metrics
of those scores: auroc, auroc_var, auprc, brier, calibration_slope,
calibration_intercept and the reliability table (bins).

Fits LogisticRegression(C=C, max_iter=10000, tol=1e-10) and compares:
  coefficients and intercept   within 1e-4 relative or 1e-6 absolute, and
                               with solver='newton-cg' (which, unlike the
                               default lbfgs, reaches the optimum's last
                               digits) within 1e-8 relative or 1e-10 absolute
  AUROC, AUPRC of the same scores (roc_auc_score, average_precision_score)
                               within 1e-9
  Brier (brier_score_loss)     within 1e-12
  DeLong variance (its definition, O(N1 * N0))  within 1e-9 relative
  calibration slope, intercept (an unpenalised newton-cg LogisticRegression
  of the label on logit(clip(p, 1e-6, 1 - 1e-6)))  within 1e-8 relative
  reliability table (calibration_curve, strategy='uniform', 10 bins)
                               within 1e-12
and prints every difference. Exits 1 naming each mismatch, 2 on bad input.
"""
import csv
import json
import sys

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

failures = []


def compare(name, got, want, rel=0.0, absolute=0.0):
    """Records a mismatch of carelake's value (got) and scikit-learn's (want)."""
    diff = abs(got - want)
    ok = diff <= absolute or (rel > 0 and diff <= rel * abs(want))
    print(f"{name:28s} carelake {got: .17g}  sklearn {want: .17g}  diff {diff:.3g}"
          f"{'' if ok else '  MISMATCH'}")
    if not ok:
        failures.append(f"{name}: carelake {got!r}, scikit-learn {want!r} (diff {diff:.3g})")


def delong_variance(y, s):
    """DeLong's variance by its definition: placements over all pairs."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)


def gradient(x, y, c, w, b):
    """The largest component of the gradient of 0.5 ||w||^2 + C sum(log-loss)."""
    r = 1.0 / (1.0 + np.exp(-(x @ w + b))) - y
    return float(np.max(np.abs(np.append(c * (x.T @ r) + w, c * r.sum()))))


def fit_unpenalised(x, y):
    """Maximum likelihood (no penalty), by newton-cg to the last digits."""
    try:
        return LogisticRegression(penalty=None, max_iter=10000, tol=1e-10,
                                  solver="newton-cg").fit(x, y)
    except (TypeError, ValueError):  # scikit-learn < 1.2 spells it 'none'
        return LogisticRegression(penalty="none", max_iter=10000, tol=1e-10,
                                  solver="newton-cg").fit(x, y)


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[1], newline="") as f:
        rows = list(csv.reader(f))
    with open(argv[2]) as f:
        res = json.load(f)
    data = np.array(rows[1:], dtype=float)
    y = data[:, 0].astype(int)
    x = data[:, 1:]
    scores = np.array(res["scores"], dtype=float)
    if len(scores) != len(y) or x.shape[1] != len(res["coef"]):
        print(f"sklearn_check: {len(y)} rows of {x.shape[1]} features in {argv[1]}, "
              f"{len(scores)} scores and {len(res['coef'])} coefficients in {argv[2]}",
              file=sys.stderr)
        return 2
    print(f"sklearn_check: {len(y)} rows, {x.shape[1]} features, {int(y.sum())} positives, "
          f"C={res['C']}")

    c = res["C"]
    model = LogisticRegression(C=c, max_iter=10000, tol=1e-10).fit(x, y)
    for j, (got, want) in enumerate(zip(res["coef"], model.coef_[0])):
        compare(f"coef[{j}]", got, want, rel=1e-4, absolute=1e-6)
    compare("intercept", res["intercept"], model.intercept_[0], rel=1e-4, absolute=1e-6)
    # lbfgs (the default) stops on a small relative change of the objective
    # while its gradient is still far from 0; newton-cg minimises the same
    # objective to the precision carelake's Newton-Raphson reaches
    exact = LogisticRegression(C=c, max_iter=10000, tol=1e-10, solver="newton-cg").fit(x, y)
    for j, (got, want) in enumerate(zip(res["coef"], exact.coef_[0])):
        compare(f"coef[{j}] (newton-cg)", got, want, rel=1e-8, absolute=1e-10)
    compare("intercept (newton-cg)", res["intercept"], exact.intercept_[0], rel=1e-8,
            absolute=1e-10)
    for who, w, b in (("carelake", np.array(res["coef"]), res["intercept"]),
                      ("sklearn lbfgs", model.coef_[0], model.intercept_[0]),
                      ("sklearn newton-cg", exact.coef_[0], exact.intercept_[0])):
        print(f"{'gradient, ' + who:28s} max |g| {gradient(x, y, c, w, b):.3g} (information)")

    # the scores are carelake's own predictions from its coefficients
    mine = 1.0 / (1.0 + np.exp(-(x @ np.array(res["coef"]) + res["intercept"])))
    compare("scores (max, own coef)", float(np.max(np.abs(scores - mine))), 0.0,
            absolute=1e-12)
    theirs = model.predict_proba(x)[:, 1]
    print(f"{'scores vs sklearn model':28s} max diff {np.max(np.abs(scores - theirs)):.3g}"
          " (information)")

    compare("auroc", res["auroc"], roc_auc_score(y, scores), absolute=1e-9)
    compare("auroc_var (DeLong)", res["auroc_var"], delong_variance(y, scores),
            rel=1e-9, absolute=1e-15)
    compare("auprc", res["auprc"], average_precision_score(y, scores), absolute=1e-9)
    compare("brier", res["brier"], brier_score_loss(y, scores), absolute=1e-12)

    p = np.clip(scores, 1e-6, 1 - 1e-6)
    cal = fit_unpenalised(np.log(p / (1 - p)).reshape(-1, 1), y)
    compare("calibration_slope", res["calibration_slope"], cal.coef_[0][0],
            rel=1e-8, absolute=1e-10)
    compare("calibration_intercept", res["calibration_intercept"], cal.intercept_[0],
            rel=1e-8, absolute=1e-10)

    prob_true, prob_pred = calibration_curve(y, scores, n_bins=10, strategy="uniform")
    edges = np.linspace(0.0, 1.0, 11)
    counts = np.bincount(np.searchsorted(edges[1:-1], scores), minlength=10)
    bins = res["bins"]
    full = [b for b in bins if b["count"] > 0]
    if [b["count"] for b in bins] != counts.tolist():
        failures.append(f"reliability counts: carelake {[b['count'] for b in bins]}, "
                        f"scikit-learn {counts.tolist()}")
        print(f"{'reliability counts':28s} MISMATCH")
    elif len(full) != len(prob_true):
        failures.append("reliability: a different number of non-empty bins")
    else:
        print(f"{'reliability counts':28s} {counts.tolist()} equal")
        for i, b in enumerate(full):
            compare(f"bin mean_predicted[{i}]", b["mean_predicted"], prob_pred[i],
                    absolute=1e-12)
            compare(f"bin observed[{i}]", b["observed"], prob_true[i], absolute=1e-12)

    if failures:
        print("sklearn_check: carelake and scikit-learn disagree:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    print("sklearn_check: carelake agrees with scikit-learn")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
