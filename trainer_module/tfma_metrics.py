"""TFMA metrics the Evaluator loads by module path (MetricConfig.module).

TFMA 0.46 has no RMSE of its own: class_name "RootMeanSquaredError" ran
Keras' metric through TFMA's TF-metric wrapper, a second combiner beside
MeanSquaredError's that cost about a fifth of the Evaluator's time. This
RootMeanSquaredError is the square root of TFMA's MeanSquaredError, derived
from its combiner (the one computation TFMA de-duplicates with the
configured MeanSquaredError), under the same metric name.
"""
import math
from typing import Any, Dict, Optional

from tensorflow_model_analysis.metrics import (mean_regression_error,
                                               metric_types, metric_util)
from tensorflow_model_analysis.proto import config_pb2

ROOT_MEAN_SQUARED_ERROR_NAME = "root_mean_squared_error"


class RootMeanSquaredError(metric_types.Metric):
    """sqrt(mean of (label - prediction)²), per slice."""

    def __init__(self, name: str = ROOT_MEAN_SQUARED_ERROR_NAME):
        super().__init__(metric_util.merge_per_key_computations(
            _root_mean_squared_error_computations), name=name)


def _root_mean_squared_error_computations(
        name: Optional[str] = None,
        eval_config: Optional[config_pb2.EvalConfig] = None,
        model_name: Optional[str] = None,
        output_name: Optional[str] = None,
        example_weighted: bool = False,
        sub_key: Optional[metric_types.SubKey] = None,
        aggregation_type: Optional[metric_types.AggregationType] = None,
        class_weights: Optional[Dict[int, float]] = None
) -> metric_types.MetricComputations:
    key = metric_types.MetricKey(
        name=name, model_name=model_name, output_name=output_name,
        sub_key=sub_key, example_weighted=example_weighted)
    # TFMA's own MeanSquaredError computation, under its default name, so
    # that it is the same computation as a configured MeanSquaredError's.
    computations = mean_regression_error._mean_squared_error_computations(  # pylint: disable=protected-access
        name=mean_regression_error.MEAN_SQUARED_ERROR_NAME,
        eval_config=eval_config, model_name=model_name,
        output_name=output_name, example_weighted=example_weighted,
        sub_key=sub_key, aggregation_type=aggregation_type,
        class_weights=class_weights)
    mse_key = computations[-1].keys[-1]

    def result(metrics: Dict[metric_types.MetricKey, Any]
               ) -> Dict[metric_types.MetricKey, float]:
        return {key: math.sqrt(metrics[mse_key])}

    computations.append(metric_types.DerivedMetricComputation(
        keys=[key], result=result))
    return computations
