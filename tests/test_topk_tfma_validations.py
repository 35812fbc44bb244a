"""components.topk_evaluator.tfma_validations: the TFMA Evaluator's failed
validations in words, read from validation results written as TFMA writes
them (validated by TFMA's metrics_validator against eval configs like the
pipeline's, as TFX's Evaluator runs them with a baseline model)."""
import os

import pytest
import tensorflow_model_analysis as tfma

from components.topk_evaluator import tfma_validations
from topk_fixtures import rmse_key, tfx_eval_config, write_tfma_validations

OVERALL = ()
COMEDY = (("genre", b"Comedy"),)
DRAMA = (("genre", b"Drama"),)


def _eval_config(metric, threshold_slices, threshold):
    """Overall and per-genre slices, `metric` with `threshold` on
    `threshold_slices`: pipeline.pipeline's eval configs' shape."""
    return tfx_eval_config(tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default",
                                    label_key="rating")],
        slicing_specs=[tfma.SlicingSpec(),
                       tfma.SlicingSpec(feature_keys=["genre"])],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(
                class_name=metric[0], module=metric[1],
                per_slice_thresholds=[tfma.PerSliceMetricThreshold(
                    slicing_specs=threshold_slices,
                    threshold=threshold)])])]))


# The rating objective's: RMSE at most 1.2 and at most 0.01 above the
# baseline's, overall.
RATING = _eval_config(
    ("RootMeanSquaredError", "trainer_module.tfma_metrics"),
    [tfma.SlicingSpec()],
    tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(
            upper_bound={"value": 1.2}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.LOWER_IS_BETTER,
            absolute={"value": 0.01})))
# The ranking objective's: AUC at least 0.7 and at most 0.01 below.
RANKING = _eval_config(
    ("AUC", ""), [tfma.SlicingSpec()],
    tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(
            lower_bound={"value": 0.7}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -0.01})))
# RMSE at most 1.3 in every genre, and in the Western genre (no data).
PER_GENRE = _eval_config(
    ("RootMeanSquaredError", "trainer_module.tfma_metrics"),
    [tfma.SlicingSpec(feature_keys=["genre"]),
     tfma.SlicingSpec(feature_values={"genre": "Western"})],
    tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
        upper_bound={"value": 1.3})))


def rmse(candidate, baseline=None, diff=None, name="root_mean_squared_error"):
    values = {rmse_key(name=name): candidate}
    if baseline is not None:
        values[rmse_key("baseline", name=name)] = baseline
    if diff is not None:
        values[rmse_key(is_diff=True, name=name)] = diff
    return values


EVALUATIONS = {
    "over_limit": (RATING, [(OVERALL, rmse(1.25, 1.22, 0.03)),
                            # No threshold on a genre: never a failure.
                            (COMEDY, rmse(1.5, 1.4, 0.1))]),
    "worse_only": (RATING, [(OVERALL, rmse(1.15, 1.10, 0.05))]),
    "passing": (RATING, [(OVERALL, rmse(1.1, 1.15, -0.05))]),
    "no_diff": (RATING, [(OVERALL, rmse(1.1, 1.1))]),
    "auc": (RANKING, [(OVERALL, rmse(0.61, 0.63, -0.02, name="auc"))]),
    "per_genre": (PER_GENRE, [(OVERALL, rmse(1.4)), (COMEDY, rmse(1.5)),
                              (DRAMA, rmse(1.2))]),
}


@pytest.fixture(scope="module")
def evaluations(tmp_path_factory):
    """{name: the evaluation folder holding its validations file}."""
    root = tmp_path_factory.mktemp("tfma_evaluations")
    uris = {name: str(root / name) for name in EVALUATIONS}
    write_tfma_validations({uris[name]: evaluation
                            for name, evaluation in EVALUATIONS.items()})
    return uris


def test_written_as_tfma_reads_it(evaluations):
    # The file name TFX's Evaluator writes, and TFMA's reader finds it.
    assert os.listdir(evaluations["over_limit"]) == ["validations.tfrecord"]
    result = tfma.load_validation_result(evaluations["over_limit"])
    assert result.validation_ok is False
    [per_slice] = result.metric_validations_per_slice
    assert [f.metric_key.is_diff for f in per_slice.failures] == [False, True]
    assert tfma.load_validation_result(
        evaluations["passing"]).validation_ok is True


def test_value_and_change_threshold_failed(evaluations):
    assert tfma_validations.explain(evaluations["over_limit"]) == (
        "root_mean_squared_error = 1.2500, upper bound 1.2 (overall slice); "
        "root_mean_squared_error change from baseline = +0.0300, needs "
        "absolute <= +0.01 (overall slice)")


def test_change_threshold_alone_failed(evaluations):
    assert tfma_validations.explain(evaluations["worse_only"]) == (
        "root_mean_squared_error change from baseline = +0.0500, needs "
        "absolute <= +0.01 (overall slice)")


def test_higher_is_better(evaluations):
    assert tfma_validations.explain(evaluations["auc"]) == (
        "auc = 0.6100, lower bound 0.7 (overall slice); auc change from "
        "baseline = -0.0200, needs absolute >= -0.01 (overall slice)")


def test_metric_not_found(evaluations):
    assert tfma_validations.explain(evaluations["no_diff"]) == (
        "root_mean_squared_error change from baseline: Metric not found, "
        "needs absolute <= +0.01 (overall slice)")


def test_slice_named_and_slice_without_data(evaluations):
    assert tfma_validations.explain(evaluations["per_genre"]) == (
        "root_mean_squared_error = 1.5000, upper bound 1.3 (slice genre = "
        "Comedy); no data in the slice genre = Western of a threshold")


def test_no_failure_named(evaluations):
    assert tfma_validations.explain(evaluations["passing"]) == (
        "its validation result names no failure (validation_ok True)")


def test_unreadable_validations_do_not_raise(tmp_path):
    assert tfma_validations.explain(str(tmp_path)) == (
        f"its validations are unreadable in {tmp_path} (AssertionError)")
