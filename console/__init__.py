"""amlops: a terminal operations console for Azure Machine Learning."""

__version__ = "0.1.0"
