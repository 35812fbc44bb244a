"""Why the TFMA Evaluator did not bless a model, in words.

TFX's Evaluator validates its metrics against the eval config's thresholds
and writes TFMA's ValidationResult proto into its evaluation artifact:
<evaluation uri>/validations.tfrecord, a TFRecord file of one record
(tfma.load_validation_result reads it). Its metric_validations_per_slice
lists, per slice, each failed threshold: the metric key (is_diff for a
change threshold: the value is then candidate minus baseline), the value,
the threshold and a message ("Metric not found." when the metric is
missing); missing_slices the threshold slices that had no data.

explain() turns that into the detail of the TopKEvaluator's "TFMA Evaluator
blessed the model" check, e.g. "root_mean_squared_error = 1.2500, upper
bound 1.2 (overall slice)". It only explains: the blessing itself is the
Evaluator's ModelBlessing.
"""
import re
from typing import List

from absl import logging
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import (config_pb2,
                                             metrics_for_slice_pb2,
                                             validation_result_pb2)

_LOWER_IS_BETTER = config_pb2.MetricDirection.LOWER_IS_BETTER


def explain(evaluation_uri: str) -> str:
    """The failed validations of the TFMA evaluation at evaluation_uri,
    "; "-joined; when it cannot be read, or names no failure, a sentence
    saying so (an explanation never fails the TopKEvaluator)."""
    try:
        result = tfma.load_validation_result(evaluation_uri)
    except Exception as error:  # pylint: disable=broad-except
        # No validations file (or not one record): the check still fails
        # on the blessing; only the explanation is missing.
        logging.warning("TFMA validations at %s unreadable: %r",
                        evaluation_uri, error)
        return (f"its validations are unreadable in {evaluation_uri} "
                f"({type(error).__name__})")
    texts = failure_texts(result)
    if texts:
        return "; ".join(texts)
    return (f"its validation result names no failure (validation_ok "
            f"{result.validation_ok})")


def failure_texts(result: validation_result_pb2.ValidationResult
                  ) -> List[str]:
    """One line per failed threshold, slice by slice, then one per
    threshold slice without data, and whether no threshold was set."""
    texts = []
    for per_slice in result.metric_validations_per_slice:
        where = (_cross_slice_text(per_slice.cross_slice_key)
                 if per_slice.HasField("cross_slice_key")
                 else _slice_key_text(per_slice.slice_key))
        texts.extend(f"{failure_text(failure)} ({where})"
                     for failure in per_slice.failures)
    texts.extend(f"no data in the {_slicing_spec_text(spec)} of a threshold"
                 for spec in result.missing_slices)
    texts.extend("no data in a cross slice of a threshold"
                 for _ in result.missing_cross_slices)
    if result.missing_thresholds:
        texts.append("no threshold configured")
    return texts


def failure_text(failure: validation_result_pb2.ValidationFailure) -> str:
    """e.g. "root_mean_squared_error = 1.2500, upper bound 1.2" or
    "root_mean_squared_error change from baseline = +0.0300, needs absolute
    <= +0.01" (a change threshold: the value is candidate - baseline)."""
    key = failure.metric_key
    label = key.name + _sub_key_text(key)
    if key.is_diff:
        label += " change from baseline"
    value = failure.metric_value
    has_value = value.WhichOneof("type") == "double_value"
    text = label
    if has_value:
        number = value.double_value.value
        text += f" = {number:+.4f}" if key.is_diff else f" = {number:.4f}"
    message = " ".join(failure.message.split()).rstrip(".")
    if message:
        text += (", " if has_value else ": ") + message
    threshold = _threshold_text(failure.metric_threshold)
    return f"{text}, {threshold}" if threshold else text


def _threshold_text(threshold: config_pb2.MetricThreshold) -> str:
    if threshold.HasField("value_threshold"):
        bounds = threshold.value_threshold
        return ", ".join(
            [f"lower bound {bounds.lower_bound.value:g}"] *
            bounds.HasField("lower_bound")
            + [f"upper bound {bounds.upper_bound.value:g}"] *
            bounds.HasField("upper_bound"))
    if threshold.HasField("change_threshold"):
        change = threshold.change_threshold
        relation = "<=" if change.direction == _LOWER_IS_BETTER else ">="
        needs = ([f"absolute {relation} {change.absolute.value:+g}"] *
                 change.HasField("absolute")
                 + [f"relative {relation} {change.relative.value:+g}"] *
                 change.HasField("relative"))
        return "needs " + " and ".join(needs) if needs else ""
    return ""


def _sub_key_text(key: metrics_for_slice_pb2.MetricKey) -> str:
    if not key.HasField("sub_key"):
        return ""
    fields = [f"{field.name} {value.value}"
              for field, value in key.sub_key.ListFields()]
    return f" ({', '.join(fields)})"


def _slice_key_text(slice_key: metrics_for_slice_pb2.SliceKey) -> str:
    columns = [f"{key.column} = {_slice_value(key)}"
               for key in slice_key.single_slice_keys]
    return "slice " + ", ".join(columns) if columns else "overall slice"


def _slice_value(key: metrics_for_slice_pb2.SingleSliceKey) -> str:
    kind = key.WhichOneof("kind")
    if kind == "bytes_value":
        return key.bytes_value.decode("utf-8", "replace")
    if kind == "float_value":
        return f"{key.float_value:g}"
    return str(key.int64_value) if kind else "?"


def _cross_slice_text(cross: metrics_for_slice_pb2.CrossSliceKey) -> str:
    return (f"cross slice: {_slice_key_text(cross.baseline_slice_key)} vs "
            f"{_slice_key_text(cross.comparison_slice_key)}")


def _slicing_spec_text(spec: config_pb2.SlicingSpec) -> str:
    parts = [f"{column} = {value}"
             for column, value in sorted(spec.feature_values.items())]
    parts += [f"each {column}" for column in spec.feature_keys]
    if spec.slice_keys_sql:
        parts.append(re.sub(r"\s+", " ", spec.slice_keys_sql).strip())
    return "slice " + ", ".join(parts) if parts else "overall slice"
