"""fer-bench: reproducible benchmarking of facial expression recognition."""

__version__ = "0.1.0"
