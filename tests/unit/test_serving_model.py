"""The demo model's scoring path (training/data.py's CategoryCodes and SmallBatchBooster, as
training/train.py's pipeline puts them together): what an online endpoint's one-row requests go
through, pinned by behaviour (benchmarks/serving.py measures the speed)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from console.lazy import lazy

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "training"))  # the scripts import each other as top-level modules

import data  # noqa: E402

# pandas on first use. `data` is imported when the file is collected, deliberately: imported later
# by name, it could be an MLflow model's copy of training/data.py (a model loaded by another test
# in this worker puts its code folder on sys.path), whose paths point into that model.
pd = lazy("pandas")


@pytest.fixture(scope="module")
def table():
    return data.load_table(data.COMMITTED_TABLE_DIR)


@pytest.fixture(scope="module")
def codes(table):
    return data.CategoryCodes(data.NUMERIC, data.CATEGORICAL).fit(table[data.FEATURES])


def test_categories_are_coded_in_sorted_order(codes):
    assert codes.codes_["contract_type"] == {"Month-to-month": 0.0, "One year": 1.0, "Two year": 2.0}
    assert list(codes.codes_) == data.CATEGORICAL


def test_output_is_numeric_columns_then_category_codes(codes, table):
    rows = table[data.FEATURES].head(3)
    out = codes.transform(rows)
    assert out.dtype == np.float64 and out.shape == (3, len(data.FEATURES))
    np.testing.assert_array_equal(out[:, :len(data.NUMERIC)], rows[data.NUMERIC].to_numpy(dtype=float))
    for j, column in enumerate(data.CATEGORICAL, start=len(data.NUMERIC)):
        assert list(out[:, j]) == [codes.codes_[column][v] for v in rows[column]]


def test_column_order_of_the_input_does_not_matter(codes, table):
    rows = table[data.FEATURES].head(5)
    np.testing.assert_array_equal(codes.transform(rows[data.FEATURES[::-1]]), codes.transform(rows))


def test_unseen_and_missing_values_become_nan(codes, table):
    rows = table[data.FEATURES].head(3).copy()
    rows["payment_method"] = ["Crypto", None, "Mailed check"]
    rows["tenure_months"] = pd.array([None, 5, 7], dtype="Int64")  # pandas' NA, not a float
    out = codes.transform(rows)
    j = data.FEATURES.index("payment_method")
    assert np.isnan(out[0, j]) and np.isnan(out[1, j]) and out[2, j] == codes.codes_["payment_method"]["Mailed check"]
    assert np.isnan(out[0, 0]) and list(out[1:, 0]) == [5.0, 7.0]


def test_object_columns_as_the_scoring_server_builds_them_score_the_same(codes, table):
    rows = table[data.FEATURES].head(4)
    as_json = pd.DataFrame(rows.to_numpy(dtype=object).tolist(), columns=data.FEATURES)
    np.testing.assert_array_equal(codes.transform(as_json), codes.transform(rows))


@pytest.fixture(scope="module")
def pipeline(table):
    import train

    train_rows, _ = data.holdout_split(table)
    return train.build_pipeline(reg=0.01, max_iter=5, learning_rate=0.1, seed=0).fit(
        train_rows[data.FEATURES], train_rows[data.LABEL])


def test_booster_sees_plain_floats_and_no_encoder_runs_per_request(pipeline):
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    assert [name for name, _ in pipeline.steps] == ["encode", "booster"]  # autolog's param prefixes
    assert pipeline.named_steps["booster"].is_categorical_ is None  # no internal ColumnTransformer
    assert not any(isinstance(v, (ColumnTransformer, OrdinalEncoder))
                   for v in pipeline.get_params(deep=True).values())


def test_small_batches_predict_on_the_calling_thread(pipeline, table, monkeypatch):
    from sklearn.ensemble import HistGradientBoostingClassifier

    calls = []
    base = HistGradientBoostingClassifier._raw_predict

    def spy(self, X, n_threads=None):
        calls.append((len(X), n_threads))
        return base(self, X, n_threads)

    monkeypatch.setattr(HistGradientBoostingClassifier, "_raw_predict", spy)
    rows = table[data.FEATURES]
    pipeline.predict(rows.head(1))
    pipeline.predict_proba(rows.head(1))
    pipeline.predict_proba(rows.head(500))
    assert calls == [(1, 1), (1, 1), (500, None)]  # None: as many threads as OpenMP has


def test_booster_scores_as_the_plain_histgradientboosting_it_extends(pipeline, table):
    from sklearn.ensemble import HistGradientBoostingClassifier

    booster = pipeline.named_steps["booster"]
    train_rows, holdout = data.holdout_split(table)
    encode = pipeline.named_steps["encode"]
    plain = HistGradientBoostingClassifier(**booster.get_params()).fit(
        encode.transform(train_rows[data.FEATURES]), train_rows[data.LABEL])
    for rows in (holdout[data.FEATURES].head(1), holdout[data.FEATURES]):
        np.testing.assert_allclose(pipeline.predict_proba(rows), plain.predict_proba(encode.transform(rows)))


def test_skops_needs_only_the_trusted_types_train_names(pipeline):
    """MLflow saves with skops and re-loads while saving: a type missing from the list fails the
    save (and under autolog drops the model silently), so the list must cover the model."""
    import skops.io

    import train

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
    assert set(untrusted) <= set(train.SKOPS_TRUSTED_TYPES), untrusted
    loaded = skops.io.loads(skops.io.dumps(pipeline), trusted=train.SKOPS_TRUSTED_TYPES)
    rows = data.load_table(data.COMMITTED_TABLE_DIR)[data.FEATURES].head(10)
    np.testing.assert_array_equal(loaded.predict_proba(rows), pipeline.predict_proba(rows))
