"""TFMA metrics the Evaluator loads by module path (MetricConfig.module).

MSE, MAE and RMSE of the rating objective, from one combiner. TFMA 0.46's
MeanSquaredError and MeanAbsoluteError are a combiner each, and each
extracts (label, prediction, weight) from every (example, slice) again: a
third of the Evaluator's time on ML-100k. It has no RMSE: class_name
"RootMeanSquaredError" ran Keras' metric through TFMA's TF-metric wrapper,
a third combiner. Here one combiner extracts them once and sums both
errors; the three metrics are derived from its sums, under TFMA's names
(mean_squared_error, mean_absolute_error, root_mean_squared_error), with
TFMA's rules: the same extraction, NaN errors skipped, weighted means.
"""
import dataclasses
import math
from typing import Any, Callable, Dict, Iterable, Optional

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

MEAN_SQUARED_ERROR_NAME = "mean_squared_error"
MEAN_ABSOLUTE_ERROR_NAME = "mean_absolute_error"
ROOT_MEAN_SQUARED_ERROR_NAME = "root_mean_squared_error"
# The combiner's own output: the sums the three metrics derive from.
_ERROR_SUMS_NAME = "_rating_error_sums"


@dataclasses.dataclass
class ErrorSums:
    """Weighted sums of squared and absolute errors, and of the weights."""
    weight: float = 0.0
    squared: float = 0.0
    absolute: float = 0.0

    def add(self, other: "ErrorSums") -> None:
        self.weight += other.weight
        self.squared += other.squared
        self.absolute += other.absolute

    def mean(self, total: float) -> float:
        return total / self.weight if self.weight else float("nan")


class _ErrorSumsCombiner(beam.CombineFn):
    """ErrorSums over the (label, prediction, weight) TFMA extracts."""

    def __init__(self, eval_config: Optional[config_pb2.EvalConfig],
                 key: metric_types.MetricKey,
                 aggregation_type: Optional[metric_types.AggregationType],
                 class_weights: Optional[Dict[int, float]]):
        self._eval_config = eval_config
        self._key = key
        self._aggregation_type = aggregation_type
        self._class_weights = class_weights

    def create_accumulator(self) -> ErrorSums:
        return ErrorSums()

    def add_input(self, accumulator: ErrorSums,
                  element: metric_types.StandardMetricInputs) -> ErrorSums:
        for label, prediction, weight in (
                metric_util.to_label_prediction_example_weight(
                    element, eval_config=self._eval_config,
                    model_name=self._key.model_name,
                    output_name=self._key.output_name,
                    aggregation_type=self._aggregation_type,
                    class_weights=self._class_weights,
                    example_weighted=self._key.example_weighted,
                    sub_key=self._key.sub_key)):
            error = label - prediction
            squared = metric_util.safe_to_scalar(np.linalg.norm(error)) ** 2
            if np.isnan(squared):  # TFMA skips an example whose error is NaN
                continue
            weight = metric_util.safe_to_scalar(weight)
            accumulator.weight += weight
            accumulator.squared += squared * weight
            accumulator.absolute += weight * metric_util.safe_to_scalar(
                np.absolute(error))
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[ErrorSums]
                           ) -> ErrorSums:
        merged = ErrorSums()
        for accumulator in accumulators:
            merged.add(accumulator)
        return merged

    def extract_output(self, accumulator: ErrorSums
                       ) -> Dict[metric_types.MetricKey, ErrorSums]:
        return {self._key: accumulator}


def _derived_from_error_sums(
        value_of: Callable[[ErrorSums], float]) -> Callable[..., Any]:
    """The computations function of a metric whose value is
    value_of(the error sums) per slice."""

    def computations(
            name: Optional[str] = None,
            eval_config: Optional[config_pb2.EvalConfig] = None,
            model_name: Optional[str] = None,
            output_name: Optional[str] = None,
            example_weighted: bool = False,
            sub_key: Optional[metric_types.SubKey] = None,
            aggregation_type: Optional[metric_types.AggregationType] = None,
            class_weights: Optional[Dict[int, float]] = None
    ) -> metric_types.MetricComputations:
        def key_named(key_name: str) -> metric_types.MetricKey:
            return metric_types.MetricKey(
                name=key_name, model_name=model_name,
                output_name=output_name, sub_key=sub_key,
                example_weighted=example_weighted)
        sums_key, key = key_named(_ERROR_SUMS_NAME), key_named(name)

        def result(metrics: Dict[metric_types.MetricKey, Any]
                   ) -> Dict[metric_types.MetricKey, float]:
            return {key: value_of(metrics[sums_key])}
        # Equal for the three metrics (combiner class and key): TFMA keeps
        # one and runs it once.
        return [metric_types.MetricComputation(
                    keys=[sums_key], preprocessors=None,
                    combiner=_ErrorSumsCombiner(eval_config, sums_key,
                                                aggregation_type,
                                                class_weights)),
                metric_types.DerivedMetricComputation(keys=[key],
                                                      result=result)]
    return computations


def _mean_squared(sums: ErrorSums) -> float:
    return sums.mean(sums.squared)


def _mean_absolute(sums: ErrorSums) -> float:
    return sums.mean(sums.absolute)


def _root_mean_squared(sums: ErrorSums) -> float:
    return math.sqrt(_mean_squared(sums))


class MeanSquaredError(metric_types.Metric):
    """Weighted mean of (label - prediction)², per slice."""

    def __init__(self, name: str = MEAN_SQUARED_ERROR_NAME):
        super().__init__(metric_util.merge_per_key_computations(
            _derived_from_error_sums(_mean_squared)), name=name)


class MeanAbsoluteError(metric_types.Metric):
    """Weighted mean of |label - prediction|, per slice."""

    def __init__(self, name: str = MEAN_ABSOLUTE_ERROR_NAME):
        super().__init__(metric_util.merge_per_key_computations(
            _derived_from_error_sums(_mean_absolute)), name=name)


class RootMeanSquaredError(metric_types.Metric):
    """sqrt(weighted mean of (label - prediction)²), per slice."""

    def __init__(self, name: str = ROOT_MEAN_SQUARED_ERROR_NAME):
        super().__init__(metric_util.merge_per_key_computations(
            _derived_from_error_sums(_root_mean_squared)), name=name)
