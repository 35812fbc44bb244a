"""trainer_module.tfma_metrics: MSE, MAE and RMSE from one combiner, equal
to TFMA's own MSE and MAE, values computed by hand."""
import math

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from trainer_module.objectives import RATING, rating
from trainer_module import tfma_metrics

EVAL_CONFIG = tfma.EvalConfig(model_specs=[tfma.ModelSpec(
    label_key="rating")])
OURS = (tfma_metrics.MeanSquaredError(), tfma_metrics.MeanAbsoluteError(),
        tfma_metrics.RootMeanSquaredError())


def inputs(label: float, prediction: float, weight: float = 1.0):
    return metric_types.StandardMetricInputs(
        labels=np.array([label]), predictions=np.array([prediction]),
        example_weights=np.array([weight]))


def evaluate(metrics, rows, example_weighted: bool = False, chunks: int = 1):
    """{metric name: value}: the metrics' computations run as TFMA runs
    them (equal combiners once), rows added in `chunks` accumulators that
    are then merged, then the derived results."""
    computations = []
    for metric in metrics:
        for computation in metric.computations(
                eval_config=EVAL_CONFIG, example_weighted=example_weighted):
            if computation not in computations:
                computations.append(computation)
    results = {}
    for computation in computations:
        if isinstance(computation, metric_types.DerivedMetricComputation):
            results.update(computation.result(results))
            continue
        combiner = computation.combiner
        accumulators = []
        for part in np.array_split(np.arange(len(rows)), chunks):
            accumulator = combiner.create_accumulator()
            for index in part:
                accumulator = combiner.add_input(accumulator,
                                                 inputs(*rows[index]))
            accumulators.append(accumulator)
        results.update(combiner.extract_output(
            combiner.merge_accumulators(accumulators)))
    return {key.name: value for key, value in results.items()
            if not key.name.startswith("_")}


def test_values_computed_by_hand():
    rows = [(4.0, 3.5), (3.0, 3.0), (5.0, 4.0), (1.0, 2.5)]
    # errors 0.5, 0, 1, 1.5: squares 0.25, 0, 1, 2.25
    assert evaluate(OURS, rows) == pytest.approx({
        "mean_squared_error": 0.875, "mean_absolute_error": 0.75,
        "root_mean_squared_error": math.sqrt(0.875)}, abs=1e-12)


def test_weighted_and_nan_rows_as_tfma_treats_them():
    rows = [(4.0, 3.0, 3.0), (2.0, 2.5, 1.0), (3.0, float("nan"), 5.0)]
    # weights 3 and 1 (the NaN error is skipped): (3·1 + 1·0.25) / 4
    values = evaluate(OURS, rows, example_weighted=True)
    assert values["mean_squared_error"] == pytest.approx(3.25 / 4)
    assert values["mean_absolute_error"] == pytest.approx(3.5 / 4)


def test_one_combiner_runs_for_the_three():
    combiners = {computation for metric in OURS
                 for computation in metric.computations(
                     eval_config=EVAL_CONFIG)
                 if isinstance(computation, metric_types.MetricComputation)}
    assert len(combiners) == 1


def test_equal_to_tfma_own_mse_and_mae_on_random_ratings():
    generator = np.random.default_rng(3)
    rows = list(zip(generator.integers(1, 6, 500).astype(float),
                    generator.normal(3.5, 1.0, 500)))
    ours = evaluate(OURS, rows, chunks=3)
    theirs = evaluate((tfma.metrics.MeanSquaredError(),
                       tfma.metrics.MeanAbsoluteError()), rows)
    assert ours["mean_squared_error"] == pytest.approx(
        theirs["mean_squared_error"], rel=1e-12)
    assert ours["mean_absolute_error"] == pytest.approx(
        theirs["mean_absolute_error"], rel=1e-12)
    assert ours["root_mean_squared_error"] == pytest.approx(
        math.sqrt(theirs["mean_squared_error"]), rel=1e-12)


def test_the_rating_eval_config_uses_them_and_gates_rmse():
    # TFMA loads the metrics by this name.
    assert rating.TFMA_METRICS_MODULE == tfma_metrics.__name__
    [spec] = RATING.eval_config(rating.Gate(1.0, 0.01)).metrics_specs
    ours = {metric.class_name for metric in spec.metrics
            if metric.module == rating.TFMA_METRICS_MODULE}
    assert ours == {"MeanSquaredError", "MeanAbsoluteError",
                    "RootMeanSquaredError"}
    [gated] = [metric for metric in spec.metrics
               if metric.per_slice_thresholds]
    assert gated.class_name == "RootMeanSquaredError"
