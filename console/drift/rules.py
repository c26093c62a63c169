"""The drift engine's rules, as DESIGN.md and Azure ML's model monitor define them: feature
types, the metrics a monitor's signal may name with their default thresholds and directions, the
PSI levels, the small-window and not-enough-data limits, the verdict's top N and dataset-drift
share, and the numeric grid's resolution. Plain constants: every other module of the package
reads them from here."""

from __future__ import annotations

NUMERIC = "numeric"
CATEGORICAL = "categorical"
FEATURE_TYPES = (NUMERIC, CATEGORICAL)
# The metrics a data drift signal's metric_thresholds may name, in azure-ai-ml's words, each data
# type's in the order Azure picks the one it computes when several are given
# (azure/ai/ml/entities/_monitoring/thresholds.py, _find_name_and_threshold: the first set one).
WASSERSTEIN = "normalized_wasserstein_distance"
JENSEN_SHANNON = "jensen_shannon_distance"
POPULATION_STABILITY = "population_stability_index"
KOLMOGOROV_SMIRNOV = "two_sample_kolmogorov_smirnov_test"
CHI_SQUARED = "pearsons_chi_squared_test"
DRIFT_METRICS = {
    NUMERIC: (JENSEN_SHANNON, WASSERSTEIN, POPULATION_STABILITY, KOLMOGOROV_SMIRNOV),
    CATEGORICAL: (JENSEN_SHANNON, POPULATION_STABILITY, CHI_SQUARED),
}
DEFAULT_METRIC = {NUMERIC: WASSERSTEIN, CATEGORICAL: JENSEN_SHANNON}  # Azure's defaults, at 0.1
# p-values breach below their threshold, everything else above it (Azure/azureml-assets,
# model_monitor_evaluate_metrics_threshold/evaluate_metrics_threshold.py).
P_VALUE_METRICS = frozenset({KOLMOGOROV_SMIRNOV, CHI_SQUARED})
# A data quality signal's rates, each breached above its threshold (Azure's default 0.0).
NULL_VALUE_RATE = "null_value_rate"
DATA_TYPE_ERROR_RATE = "data_type_error_rate"
OUT_OF_BOUNDS_RATE = "out_of_bounds_rate"
QUALITY_METRICS = (NULL_VALUE_RATE, DATA_TYPE_ERROR_RATE, OUT_OF_BOUNDS_RATE)
QUALITY_DEFAULT = 0.0
QUALITY_DECIMALS = 5  # Azure rounds each rate to 5 decimals before comparing

DEFAULT_THRESHOLD = 0.1
P_VALUE_THRESHOLD = 0.05
SMALL_WINDOW = 1_000  # under this many rows a p-value is computed and gates the flag
RAW_ROWS = 10_000  # a window's raw values are kept until it reaches this (Azure's own KS limit)
NULL_QUANTILE_Z = 2.3263  # a categorical is judged when 99 % of baseline-drawn windows stay under
MIN_ROWS = 10  # under this many rows: "not enough data"
STD_FLOOR = 0.001
INTEGER_CATEGORICAL_SHARE = 0.05
HISTOGRAM_EDGES = 10  # numeric histograms for the pane: the baseline's deciles
PSI_FLOOR = 1e-4  # the chi-squared test's floor for a category unseen in the baseline
CHI2_MIN_EXPECTED = 5.0  # categories expecting fewer rows are pooled (Cochran's rule)
PSI_WARN = 0.1
PSI_ALERT = 0.25
TOP_N = 10
HISTOGRAM_BINS = 12  # categorical histograms: more categories are pooled into "other"
OTHER = "other"
DATASET_DRIFT_SHARE = 0.5
NOT_ENOUGH_DATA = "not enough data"
NOT_IN_WINDOW = "not in the production data"

GRID_STEP = 0.002  # uniform cell width, in units of max(std, 0.001)
MAX_UNIFORM_CELLS = 65_536
OUTER_POINTS = 512  # order statistics per side outside the uniform window
TAIL_SUBCELLS = 32  # beyond the baseline's range: log-spaced cells, this many per doubling
TAIL_OCTAVES = 64
CDF_POINTS = 8_192  # KS table resolution
SUB_CHUNK = 65_536  # rows per vectorised pass: temporaries stay in cache

FORMAT = "amlops-drift-baseline"
FORMAT_VERSION = 2  # 1: population std, categories keyed by JSON value (read and upgraded)
