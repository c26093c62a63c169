"""The promotion gate: scores a candidate model and the production model on the same
holdout rows and passes only if the candidate is strictly better.

    python training/evaluate.py --candidate MODEL_URI [--production MODEL_URI] [--data DIR]
        [--metric auc|accuracy] [--min-improvement 0.0] [--min-auc 0.7]

MODEL_URI is anything MLflow loads: runs:/ID/model, models:/name/1, models:/m-ID, a local path.
Without --production (the first model) the candidate passes if it reaches --min-auc.
Exit status: 0 pass, 1 fail, 2 bad input (a model or the data cannot be read or scored).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, roc_auc_score

from data import COMMITTED_TABLE_DIR, FEATURES, LABEL, holdout_split, load_table

METRICS = ("auc", "accuracy")
PASS, FAIL, BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """A model or the data cannot be read or scored; the message says which and why."""


def gate(
    candidate: float,
    production: float | None,
    min_improvement: float = 0.0,
    min_score: float = 0.7,
) -> bool:
    """True if the candidate should be promoted. A NaN score never passes."""
    if production is None:
        return bool(candidate >= min_score)
    return bool(candidate - production > min_improvement)


def score_model(role: str, uri: str, X: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """Holdout metrics for the model at uri. AUC uses churn probabilities when the model is
    a scikit-learn one; any other MLflow model is scored on what its predict returns."""
    import mlflow  # slow to import; only pay for it once arguments and data are good

    try:
        model = mlflow.pyfunc.load_model(uri)
    except Exception as err:  # any failure to load is a wrong URI or a broken model
        raise BadInput(f"cannot load the {role} model {uri!r}: {err}") from None
    try:
        raw = model.get_raw_model()
    except NotImplementedError:
        raw = None
    try:
        if hasattr(raw, "predict_proba"):
            probability = raw.predict_proba(X)[:, 1]
        else:
            predictions = np.asarray(model.predict(X), dtype=float)
            probability = predictions[:, -1] if predictions.ndim == 2 else predictions.ravel()
    except Exception as err:  # e.g. a model trained on other columns
        raise BadInput(f"the {role} model {uri!r} cannot score the holdout: {err}") from None
    labels = (probability >= 0.5).astype(int)
    return {"auc": roc_auc_score(y, probability), "accuracy": accuracy_score(y, labels)}


def print_table(scores: dict[str, dict[str, float]], uris: dict[str, str], metric: str) -> None:
    width = max(len(u) for u in uris.values())
    print(f"{'model':<11} {'uri':<{width}}" + "".join(f" {m:>9}" for m in METRICS))
    for role, s in scores.items():
        print(f"{role:<11} {uris[role]:<{width}}" + "".join(f" {s[m]:>9.4f}" for m in METRICS))
    if len(scores) == 2:
        diff = scores["candidate"][metric] - scores["production"][metric]
        cells = "".join(f" {diff:>+9.4f}" if m == metric else " " * 10 for m in METRICS)
        print(f"{'difference':<11} {'':<{width}}{cells}".rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Promotion gate: candidate vs production.")
    parser.add_argument("--candidate", required=True, help="model URI of the new model")
    parser.add_argument("--production", help="model URI of the serving model; omit for the first")
    parser.add_argument("--data", default=str(COMMITTED_TABLE_DIR),
                        help="table folder or CSV file (default: the committed table)")
    parser.add_argument("--metric", choices=METRICS, default="auc")
    parser.add_argument("--min-improvement", type=float, default=0.0,
                        help="the candidate must beat production by more than this")
    parser.add_argument("--min-auc", "--min-score", dest="min_score", type=float, default=0.7,
                        help="without --production: the least score (of --metric) that passes")
    args = parser.parse_args(argv)
    # Download progress bars would bury the table in a job log.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    uris = {"candidate": args.candidate}
    if args.production:
        uris["production"] = args.production
    try:
        _, holdout = holdout_split(load_table(args.data))
        X, y = holdout[FEATURES], holdout[LABEL]
        scores = {role: score_model(role, uri, X, y) for role, uri in uris.items()}
    except (BadInput, FileNotFoundError, ValueError) as err:
        print(f"evaluate.py: {err}", file=sys.stderr)
        return BAD_INPUT

    print(f"{args.metric} on {len(holdout)} holdout rows of {args.data}")
    print_table(scores, uris, args.metric)
    candidate = scores["candidate"][args.metric]
    production = scores["production"][args.metric] if args.production else None
    passed = gate(candidate, production, args.min_improvement, args.min_score)
    if production is None:
        rule = f"no production model; needs {args.metric} >= {args.min_score}, has {candidate:.4f}"
    else:
        rule = (f"needs {args.metric} above production by more than {args.min_improvement}, "
                f"has {candidate - production:+.4f}")
    print(f"gate: {'PASS' if passed else 'FAIL'}: {rule}")
    return PASS if passed else FAIL


if __name__ == "__main__":
    sys.exit(main())
