"""trainer_module.tfma_metrics: RMSE as the root of TFMA's own MSE."""
import math

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from pipeline import configs
from pipeline.pipeline import rating_eval_config
from trainer_module.tfma_metrics import RootMeanSquaredError

LABELS = [4.0, 3.0, 5.0, 1.0]
PREDICTIONS = [3.5, 3.0, 4.0, 2.5]
EVAL_CONFIG = tfma.EvalConfig(model_specs=[tfma.ModelSpec(
    label_key="rating")])


def computations(metric) -> list:
    return metric.computations(eval_config=EVAL_CONFIG)


def test_rmse_is_the_root_of_the_mean_squared_error():
    mse, rmse = computations(RootMeanSquaredError())
    accumulator = mse.combiner.create_accumulator()
    for label, prediction in zip(LABELS, PREDICTIONS):
        accumulator = mse.combiner.add_input(
            accumulator, metric_types.StandardMetricInputs(
                labels=np.array([label]), predictions=np.array([prediction]),
                example_weights=np.array([1.0])))
    [(key, value)] = rmse.result(
        mse.combiner.extract_output(accumulator)).items()
    # (0.5² + 0² + 1² + 1.5²) / 4 = 0.875
    assert value == pytest.approx(math.sqrt(0.875), abs=1e-12)
    assert key.name == "root_mean_squared_error"


def test_its_combiner_is_the_configured_mean_squared_errors():
    """One combiner for MSE and RMSE: TFMA keeps one of equal computations."""
    mse, _ = computations(RootMeanSquaredError())
    [configured] = computations(tfma.metrics.MeanSquaredError())
    assert mse == configured and hash(mse) == hash(configured)


def test_the_rating_eval_config_gates_this_rmse():
    [spec] = rating_eval_config(1.0, 0.01).metrics_specs
    [gated] = [metric for metric in spec.metrics
               if metric.per_slice_thresholds]
    assert (gated.class_name, gated.module) == (
        "RootMeanSquaredError", configs.TFMA_METRICS_MODULE)
    assert "MeanSquaredError" in [metric.class_name for metric in spec.metrics]
