"""The demo model's data: a seeded synthetic customer-churn table, its drift knob,
its on-disk format, the one train/holdout split that training and the promotion gate
both use, and the model's two steps: CategoryCodes (raw feature frame to numbers) and
SmallBatchBooster (the gradient-boosted trees, one thread for an endpoint's few rows).

Standalone on purpose: Azure ML uploads training/ as the job's code folder and runs
`python train.py` inside it, so siblings import this as plain `import data`; the logged
model carries this file as its code for the same reason (the scoring server imports both
steps from it).

    python training/data.py --out DIR [--rows 4000] [--seed 42] [--drift 0.3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

NUMERIC = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "num_products",
    "avg_session_minutes",
    "senior_citizen",
    "paperless_billing",
]
CATEGORICAL = ["contract_type", "payment_method", "internet_service"]
FEATURES = NUMERIC + CATEGORICAL
LABEL = "churn"

CONTRACTS = ["Month-to-month", "One year", "Two year"]
PAYMENT_METHODS = [
    "Electronic check",
    "Mailed check",
    "Bank transfer (automatic)",
    "Credit card (automatic)",
]
INTERNET_SERVICES = ["DSL", "Fiber optic", "No"]

# What drift=1.0 does to each feature; the shift scales linearly with drift.
DRIFTABLE = {
    "monthly_charges": "+25 per month (a price rise)",
    "tenure_months": "halved (a wave of new customers)",
    "contract_type": "60% of yearly contracts become Month-to-month",
    "support_calls": "call rate x2.5 (a service incident)",
}
DEFAULT_ROWS = 4000
DEFAULT_SEED = 42
TABLE_NAME = "churn.csv"
COMMITTED_TABLE_DIR = Path(__file__).resolve().parent.parent / "specs" / "data" / "churn-features"


def make_churn(
    n_rows: int = DEFAULT_ROWS,
    seed: int = DEFAULT_SEED,
    drift: float = 0.0,
    drift_features: list[str] | None = None,
) -> pd.DataFrame:
    """Return n_rows customers with FEATURES and a 0/1 LABEL.

    drift (0..1) shifts the drift_features (default: all of DRIFTABLE) while every other
    draw stays the same, so a drifted table is the same customers, moved. total_charges is
    monthly_charges x tenure_months and so moves with either. The churn label follows the
    drifted features through an unchanged rule: covariate shift, not concept shift.
    """
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be within [0, 1], got {drift}")
    if n_rows < 1:
        raise ValueError(f"n_rows must be positive, got {n_rows}")
    drifted = set(DRIFTABLE if drift_features is None else drift_features)
    unknown = drifted - DRIFTABLE.keys()
    if unknown:
        raise ValueError(f"cannot drift {sorted(unknown)}; driftable: {sorted(DRIFTABLE)}")

    def shift(feature: str) -> float:
        return drift if feature in drifted else 0.0

    # One independent stream per quantity: changing how one column is drawn (or drifted)
    # never reshuffles the draws of another.
    names = ["loyalty", "tenure", "contract", "internet", "products", "charges", "total",
             "payment", "paperless", "senior", "calls", "session", "noise", "label"]
    rng = dict(zip(names, np.random.default_rng(seed).spawn(len(names))))
    n = n_rows

    # A latent loyalty drives both tenure and contract length, as in real books of customers.
    loyalty = rng["loyalty"].standard_normal(n)

    tenure = rng["tenure"].gamma(1.3, 22.0, n) * np.exp(0.35 * loyalty)
    tenure *= 1.0 - 0.5 * shift("tenure_months")
    tenure = np.clip(np.rint(tenure), 1, 72).astype(np.int64)

    contract_score = (loyalty + 0.5 * rng["contract"].standard_normal(n)) / np.sqrt(1.25)
    contract = np.digitize(contract_score, [0.125, 0.706])  # ~55% / 21% / 24%
    to_monthly = rng["contract"].random(n) < 0.6 * shift("contract_type")
    contract = np.where(to_monthly, 0, contract)

    internet = rng["internet"].choice(3, n, p=[0.34, 0.44, 0.22])
    products = 1 + rng["products"].binomial(5, 0.3, n)

    charges = np.array([52.0, 82.0, 22.0])[internet] + 6.0 * (products - 1)
    charges += rng["charges"].normal(0.0, 6.0, n) + 25.0 * shift("monthly_charges")
    charges = np.round(np.clip(charges, 18.0, 150.0), 2)
    # Past bills were not all at today's price.
    total = np.round(charges * tenure * rng["total"].uniform(0.93, 1.02, n), 2)

    payment = rng["payment"].choice(4, n, p=[0.34, 0.23, 0.22, 0.21])
    paperless = rng["paperless"].random(n) < 0.59
    senior = rng["senior"].random(n) < 0.16

    # Inverse-CDF draw so a higher call rate raises each customer's count, never lowers it.
    call_rate = np.where(internet == 1, 1.5, 1.0) * (1.0 + 1.5 * shift("support_calls"))
    calls = stats.poisson.ppf(rng["calls"].random(n), call_rate).astype(np.int64)

    session = rng["session"].lognormal(np.log(25.0), 0.6, n) * (1.0 + 0.15 * (products - 1))
    session = np.round(session, 2)

    logit = (
        -1.9
        - 0.035 * (tenure - 24)
        + 0.025 * (charges - 65)
        + np.array([0.9, -0.4, -1.4])[contract]
        + 0.45 * (payment == 0)
        + 0.3 * (internet == 1)
        + 0.35 * (calls - 1.2)
        + 0.35 * senior
        + 0.2 * paperless
        - 0.15 * (products - 2)
        - 0.015 * (session - 25)
        + rng["noise"].normal(0.0, 0.5, n)
    )
    churn = (rng["label"].random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

    table = pd.DataFrame({
        "tenure_months": tenure,
        "monthly_charges": charges,
        "total_charges": total,
        "support_calls": calls,
        "num_products": products,
        "avg_session_minutes": session,
        "senior_citizen": senior,
        "paperless_billing": paperless,
        "contract_type": np.array(CONTRACTS)[contract],
        "payment_method": np.array(PAYMENT_METHODS)[payment],
        "internet_service": np.array(INTERNET_SERVICES)[internet],
        LABEL: churn,
    })
    return table[FEATURES + [LABEL]]


def write_table(table: pd.DataFrame, out_dir: str | Path) -> Path:
    """Write table as out_dir/churn.csv with fixed formatting, so that the same seed
    always gives the same bytes."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / TABLE_NAME
    table.to_csv(path, index=False, float_format="%.2f", lineterminator="\n")
    return path


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a table file, or every *.csv in a folder (name order), as one DataFrame.

    Raises FileNotFoundError when there is nothing to read and ValueError when
    FEATURES or LABEL columns are missing.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise FileNotFoundError(f"no *.csv files in {path}")
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"no such file or folder: {path}")
    table = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    missing = [c for c in FEATURES + [LABEL] if c not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}")
    return table


def holdout_split(
    table: pd.DataFrame, seed: int = DEFAULT_SEED, test_size: float = 0.25
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout), stratified on the label. Training and the promotion gate both
    call this with the same defaults, so every model is scored on rows it never saw."""
    return train_test_split(
        table, test_size=test_size, random_state=seed, stratify=table[LABEL]
    )


# The model's steps. Every logged model carries a copy of this file and its scoring server
# imports `data` from that copy; a process that imported another `data` first (the promotion
# gate scoring an older model, say) uses that one. So keep these names, and the attributes
# their fitted state uses, loadable by models trained before a change.


class CategoryCodes(TransformerMixin, BaseEstimator):
    """The raw feature frame as the booster's float matrix: the `numeric` columns as they
    are, then each `categorical` column as the index of its value among the sorted values
    seen in fit; a value never seen (or missing) becomes NaN, which the booster routes as
    a missing value.

    It replaces a ColumnTransformer + OrdinalEncoder (and the booster's own internal one)
    on the scoring path: those cost milliseconds per request in input checks and pandas
    indexing; this is a dict lookup per categorical value (tens of microseconds a row).
    """

    def __init__(self, numeric: list[str] | None = None, categorical: list[str] | None = None) -> None:
        self.numeric = numeric
        self.categorical = categorical

    def fit(self, X: pd.DataFrame, y: object = None) -> CategoryCodes:
        self.columns_ = list(self.numeric or []) + list(self.categorical or [])
        self.codes_ = {c: {v: float(i) for i, v in enumerate(sorted(X[c].dropna().unique()))}
                       for c in self.categorical or []}
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        columns = self.columns_
        # The scoring server's frames already come in the signature's order: one to_numpy
        # of the whole frame is several times cheaper than selecting the columns first.
        values = X.to_numpy() if list(X.columns) == columns else X[columns].to_numpy()
        out = np.empty(values.shape, dtype=np.float64)
        n = len(columns) - len(self.codes_)
        try:
            out[:, :n] = values[:, :n]
        except TypeError:  # pandas' NA (a nullable integer column) is not a float
            out[:, :n] = X[columns[:n]].to_numpy(dtype=np.float64, na_value=np.nan)
        for j, codes in enumerate(self.codes_.values(), start=n):
            out[:, j] = [codes.get(v, np.nan) for v in values[:, j]]
        return out


class SmallBatchBooster(HistGradientBoostingClassifier):
    """HistGradientBoostingClassifier that scores a small batch on the calling thread.

    Its prediction loop is one OpenMP parallel region per tree. For the one row of an endpoint
    request that buys nothing and costs a hand-off to the pool's other threads per tree, which
    waits for a core each time the machine is busy: on this 2-core one, one row after 100 ms
    idle (the demo's 2 requests/s) took 10 ms at p50, and 107 ms at p95 with two more busy
    processes, against 1.8 ms (p95 2.5 to 6 ms) on the calling thread. Batches of
    SMALL_BATCH_ROWS rows or more (the promotion gate's holdout, the learning curve) still use
    every core. Parameters, fit and results are the base class's.
    """

    SMALL_BATCH_ROWS = 50  # where the parallel loop starts to pay here, warm and idle: ~100 rows

    def _raw_predict(self, X, n_threads=None):
        # The one funnel of predict, predict_proba and decision_function (scikit-learn 1.x).
        if n_threads is None and len(X) < self.SMALL_BATCH_ROWS:
            n_threads = 1
        return super()._raw_predict(X, n_threads=n_threads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic churn table to DIR/churn.csv.")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--drift", type=float, default=0.0, help="0 (none) to 1 (strong)")
    parser.add_argument(
        "--drift-features",
        help=f"comma-separated subset of {','.join(DRIFTABLE)} (default: all)",
    )
    args = parser.parse_args(argv)
    features = args.drift_features.split(",") if args.drift_features else None
    try:
        table = make_churn(args.rows, args.seed, args.drift, features)
    except ValueError as err:
        parser.error(str(err))
    path = write_table(table, args.out)
    print(f"wrote {path}: {len(table)} rows, churn rate {table[LABEL].mean():.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
