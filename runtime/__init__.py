"""Run-time support for the runners, reports and benchmarks: the run lock,
console progress, quiet TensorFlow start-up and ML Metadata queries.

Nothing here defines the pipeline (that is pipeline/); nothing here imports
TensorFlow at import time.
"""
