"""The churn table (training/data.py): reproducible bytes, the drift knob, a learnable
label, the shared holdout split; and the promotion gate's rule (training/evaluate.py)."""

import sys
from pathlib import Path

import pytest

from console.lazy import lazy

REPO = Path(__file__).resolve().parents[2]
# training/ is uploaded to Azure ML as a flat code folder, so its modules import each
# other as top-level names; tests see them the same way.
sys.path.insert(0, str(REPO / "training"))

import data  # noqa: E402
import evaluate  # noqa: E402

# pandas and sklearn's metrics on first use. `data` and `evaluate` are imported when the file is
# collected, deliberately: imported later by name, `data` could be an MLflow model's copy of
# training/data.py (a model loaded by another test in this worker puts its code folder on sys.path).
pd = lazy("pandas")
metrics = lazy("sklearn.metrics")

COMMITTED = REPO / "specs" / "data" / "churn-features" / "churn.csv"


@pytest.fixture(scope="module")
def base():
    return data.make_churn()


def test_committed_table_regenerates_byte_for_byte(tmp_path):
    assert data.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "churn.csv").read_bytes() == COMMITTED.read_bytes()


def test_committed_table_uses_the_defaults():
    table = data.load_table(COMMITTED.parent)
    assert len(table) == data.DEFAULT_ROWS
    assert list(table.columns) == data.FEATURES + [data.LABEL]


def test_seed_decides_the_table():
    assert data.make_churn(500, seed=7).equals(data.make_churn(500, seed=7))
    assert not data.make_churn(500, seed=7).equals(data.make_churn(500, seed=8))


def test_columns_have_sane_values(base):
    assert base["tenure_months"].between(1, 72).all()
    assert base["monthly_charges"].between(18, 150).all()
    assert (base["total_charges"] > 0).all()
    assert (base["support_calls"] >= 0).all()
    assert base["num_products"].between(1, 6).all()
    assert base["senior_citizen"].dtype == bool
    assert set(base["contract_type"]) == set(data.CONTRACTS)
    assert set(base["payment_method"]) == set(data.PAYMENT_METHODS)
    assert set(base["internet_service"]) == set(data.INTERNET_SERVICES)
    assert set(base[data.LABEL]) == {0, 1}


def test_label_carries_a_learnable_signal(base):
    assert 0.2 <= base[data.LABEL].mean() <= 0.3
    # Single features already separate churners, in the directions the rule intends.
    assert metrics.roc_auc_score(base[data.LABEL], -base["tenure_months"]) > 0.6
    assert metrics.roc_auc_score(base[data.LABEL], base["support_calls"]) > 0.55
    by_contract = base.groupby("contract_type")[data.LABEL].mean()
    assert by_contract["Month-to-month"] > by_contract["One year"] > by_contract["Two year"]


def _shift(feature, table):
    """The drift-sensitive statistic of each driftable feature."""
    if feature == "contract_type":
        return (table[feature] == "Month-to-month").mean()
    return table[feature].mean()


# Per unit of drift: (direction, least size of the shift).
EXPECTED = {
    "monthly_charges": (+1, 20.0),
    "tenure_months": (-1, 0.3 * 27),
    "contract_type": (+1, 0.2),
    "support_calls": (+1, 1.0),
}
DERIVED = {"monthly_charges": {"total_charges"}, "tenure_months": {"total_charges"}}


def test_every_driftable_feature_is_covered():
    assert set(EXPECTED) == set(data.DRIFTABLE)


@pytest.mark.parametrize("feature", sorted(EXPECTED))  # == data.DRIFTABLE, checked above
def test_drift_moves_only_the_chosen_feature(base, feature):
    direction, least = EXPECTED[feature]
    half = data.make_churn(drift=0.5, drift_features=[feature])
    full = data.make_churn(drift=1.0, drift_features=[feature])

    base_stat, half_stat, full_stat = (_shift(feature, t) for t in (base, half, full))
    assert direction * (full_stat - base_stat) >= least
    assert direction * (half_stat - base_stat) > 0
    assert direction * (full_stat - half_stat) > 0

    untouched = set(data.FEATURES) - {feature} - DERIVED.get(feature, set())
    for column in untouched:
        pd.testing.assert_series_equal(full[column], base[column])


def test_drift_defaults_to_every_driftable_feature(base):
    drifted = data.make_churn(drift=0.3)
    for feature, (direction, _) in EXPECTED.items():
        assert direction * (_shift(feature, drifted) - _shift(feature, base)) > 0
    # Dearer, newer, more troubled customers on shorter contracts churn more.
    assert drifted[data.LABEL].mean() > base[data.LABEL].mean()


def test_zero_drift_is_no_drift(base):
    assert data.make_churn(drift=0.0, drift_features=list(data.DRIFTABLE)).equals(base)


@pytest.mark.parametrize("kwargs", [
    {"drift": -0.1}, {"drift": 1.5}, {"drift": 0.2, "drift_features": ["senior_citizen"]},
])
def test_bad_drift_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        data.make_churn(100, **kwargs)


def test_drifted_cli_table_differs_from_committed(tmp_path):
    assert data.main(["--out", str(tmp_path), "--drift", "0.3"]) == 0
    assert (tmp_path / "churn.csv").read_bytes() != COMMITTED.read_bytes()


def test_load_table_reads_a_folder_in_name_order(tmp_path, base):
    base.iloc[:10].to_csv(tmp_path / "b.csv", index=False)
    base.iloc[10:15].to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "notes.txt").write_text("not a table")
    table = data.load_table(tmp_path)
    assert len(table) == 15
    sessions = base["avg_session_minutes"]
    assert table["avg_session_minutes"].tolist()[:5] == sessions.iloc[10:15].tolist()


def test_load_table_reads_a_file():
    assert len(data.load_table(COMMITTED)) == data.DEFAULT_ROWS


def test_load_table_refuses_missing_or_wrong_input(tmp_path, base):
    with pytest.raises(FileNotFoundError):
        data.load_table(tmp_path / "absent")
    with pytest.raises(FileNotFoundError):
        data.load_table(tmp_path)  # a folder without CSVs
    base.drop(columns=["tenure_months"]).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match="tenure_months"):
        data.load_table(tmp_path)


def test_holdout_split_is_deterministic_disjoint_and_stratified(base):
    train, holdout = data.holdout_split(base)
    train_again, holdout_again = data.holdout_split(base)
    assert holdout.index.equals(holdout_again.index)
    assert train.index.equals(train_again.index)
    assert not set(train.index) & set(holdout.index)
    assert len(holdout) == len(base) // 4
    assert abs(holdout[data.LABEL].mean() - base[data.LABEL].mean()) < 0.01
    assert not data.holdout_split(base, seed=1)[1].index.equals(holdout.index)


@pytest.mark.parametrize("candidate, production, min_improvement, passes", [
    (0.80, 0.75, 0.0, True),
    (0.75, 0.80, 0.0, False),
    (0.80, 0.80, 0.0, False),  # a tie keeps the model in production
    (0.80, 0.78, 0.05, False),
    (0.80, 0.70, 0.05, True),
    (float("nan"), 0.70, 0.0, False),
])
def test_gate_needs_a_strict_improvement(candidate, production, min_improvement, passes):
    assert evaluate.gate(candidate, production, min_improvement) is passes


@pytest.mark.parametrize("candidate, passes", [(0.69, False), (0.70, True), (float("nan"), False)])
def test_gate_without_production_needs_the_floor(candidate, passes):
    assert evaluate.gate(candidate, None, min_score=0.7) is passes
