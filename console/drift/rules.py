"""The drift engine's rules, as DESIGN.md and Azure ML's model monitor define them: feature
types, metrics and their default thresholds, the PSI bins and levels, the small-window and
not-enough-data limits, the verdict's top N and dataset-drift share, and the numeric grid's
resolution. Plain constants: every other module of the package reads them from here."""

from __future__ import annotations

NUMERIC = "numeric"
CATEGORICAL = "categorical"
FEATURE_TYPES = (NUMERIC, CATEGORICAL)
WASSERSTEIN = "normalized_wasserstein_distance"
JENSEN_SHANNON = "jensen_shannon_distance"

DEFAULT_THRESHOLD = 0.1
P_VALUE_THRESHOLD = 0.05
SMALL_WINDOW = 1_000  # under this many rows a p-value is computed and gates the flag
MIN_ROWS = 10  # under this many rows: "not enough data"
STD_FLOOR = 0.001
INTEGER_CATEGORICAL_SHARE = 0.05
PSI_BINS = 10
PSI_FLOOR = 1e-4
CHI2_MIN_EXPECTED = 5.0  # categories expecting fewer rows are pooled (Cochran's rule)
PSI_WARN = 0.1
PSI_ALERT = 0.25
TOP_N = 10
HISTOGRAM_BINS = 12  # categorical histograms: more categories are pooled into "other"
OTHER = "other"
DATASET_DRIFT_SHARE = 0.5
NOT_ENOUGH_DATA = "not enough data"

GRID_STEP = 0.002  # uniform cell width, in units of max(std, 0.001)
MAX_UNIFORM_CELLS = 65_536
OUTER_POINTS = 512  # order statistics per side outside the uniform window
CDF_POINTS = 8_192  # KS table resolution
SUB_CHUNK = 65_536  # rows per vectorised pass: temporaries stay in cache

FORMAT = "amlops-drift-baseline"
FORMAT_VERSION = 1
