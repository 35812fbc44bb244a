"""Shared helpers of the TopKEvaluator tests: fake models, fake examples,
a TFMA evaluation's validation result and one run of the executor.

A fake model is a SavedModel with only the `serving_raw` signature the
TopKEvaluator uses, whose score is a known function of (user, item, genres),
so every metric can be computed by hand or by brute force.
"""
import os
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple

import apache_beam as beam
import numpy as np
import pandas as pd
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.evaluators import metrics_validator
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.proto import validation_result_pb2
from tensorflow_model_analysis.writers import (
    metrics_plots_and_validations_writer as tfma_writer)
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import path_utils

from components.topk_evaluator import executor

import movielens_features as features
from trainer_module.model import PREDICTION_KEY, RAW_SIGNATURE, SCORE_KEY

# (user_id, item_id, rating, genres or None for no genres value, timestamp)
Row = Tuple[int, int, float, Optional[bytes], int]

_RAW_SPEC = [tf.TensorSpec([None], tf.int64, name=features.USER_KEY),
             tf.TensorSpec([None], tf.int64, name=features.ITEM_KEY),
             tf.TensorSpec([None], tf.string, name=features.GENRES_KEY)]


# ------------------------------------------------------------ fake models


def save_fake_model(export_dir: str,
                    score_fn: Callable[[tf.Tensor, tf.Tensor, tf.Tensor],
                                       tf.Tensor],
                    signature_name: str = RAW_SIGNATURE) -> str:
    """Saves a SavedModel whose `signature_name` returns
    {"predictions": clip(score, 0.5, 5) [n, 1], "scores": score [n, 1]}
    with score = score_fn(user_id, item_id, genres) (float32 [n])."""
    module = tf.Module()

    def serve(user_id, item_id, genres):
        score = tf.reshape(tf.cast(score_fn(user_id, item_id, genres),
                                   tf.float32), [-1, 1])
        return {PREDICTION_KEY: tf.clip_by_value(
                    score, features.RATING_MIN, features.RATING_MAX),
                SCORE_KEY: score}

    module.serve = tf.function(serve, input_signature=_RAW_SPEC)
    tf.saved_model.save(module, export_dir, signatures={
        signature_name: module.serve.get_concrete_function()})
    return export_dir


def table_score_fn(table: np.ndarray):
    """score = table[user_id, item_id] (ids index the table directly)."""
    constant = tf.constant(np.asarray(table, np.float32))

    def score(user_id, item_id, genres):
        del genres
        return tf.gather_nd(constant, tf.stack([user_id, item_id], axis=1))
    return score


def save_table_model(export_dir: str, table: np.ndarray) -> str:
    return save_fake_model(export_dir, table_score_fn(table))


def make_model_artifact(root: str, table: np.ndarray,
                        artifact_id: int) -> standard_artifacts.Model:
    """A Model artifact at `root` whose Format-Serving dir is a table model."""
    model = standard_artifacts.Model()
    model.uri = str(root)
    model.id = artifact_id
    save_table_model(path_utils.serving_model_path(model.uri), table)
    return model


# ---------------------------------------------------------- fake examples


def make_example(row: Row) -> tf.train.Example:
    user, item, rating, genres, timestamp = row
    feature = {
        features.USER_KEY: tf.train.Feature(
            int64_list=tf.train.Int64List(value=[user])),
        features.ITEM_KEY: tf.train.Feature(
            int64_list=tf.train.Int64List(value=[item])),
        features.LABEL_KEY: tf.train.Feature(
            float_list=tf.train.FloatList(value=[rating])),
        # No value at all for a missing genre, as CsvExampleGen writes an
        # empty cell.
        features.GENRES_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[] if genres is None else [genres])),
        features.TIMESTAMP_KEY: tf.train.Feature(
            int64_list=tf.train.Int64List(value=[timestamp])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def write_examples_artifact(uri: str, splits: Dict[str, Sequence[Row]],
                            files_per_split: int = 2
                            ) -> standard_artifacts.Examples:
    """Gzipped TFRecords of raw tf.Examples under <uri>/Split-<name>/."""
    for name, rows in splits.items():
        split_dir = os.path.join(str(uri), f"Split-{name}")
        os.makedirs(split_dir, exist_ok=True)
        options = tf.io.TFRecordOptions(compression_type="GZIP")
        for part in range(files_per_split):
            path = os.path.join(
                split_dir,
                f"data_tfrecord-{part:05d}-of-{files_per_split:05d}.gz")
            with tf.io.TFRecordWriter(path, options) as writer:
                for row in list(rows)[part::files_per_split]:
                    writer.write(make_example(row).SerializeToString())
    examples = standard_artifacts.Examples()
    examples.uri = str(uri)
    examples.split_names = artifact_utils.encode_split_names(list(splits))
    return examples


def rows_frame(rows: Iterable[Row]):
    """The frame data.read_examples returns for these rows (any order)."""
    rows = list(rows)
    return pd.DataFrame({
        features.USER_KEY: np.array([r[0] for r in rows], np.int64),
        features.ITEM_KEY: np.array([r[1] for r in rows], np.int64),
        features.LABEL_KEY: np.array([r[2] for r in rows], np.float32),
        features.GENRES_KEY: np.array(
            [b"" if r[3] is None else r[3] for r in rows], object),
    })


# ----------------------------------------- a TFMA evaluation's validations

# (slice key as TFMA's slicer has it: () overall, (("genre", b"Comedy"),) a
# genre; {metric key: value} of the candidate, the baseline and the diffs)
SlicedMetrics = Tuple[Tuple, Dict[metric_types.MetricKey, float]]


def tfx_eval_config(eval_config: tfma.EvalConfig) -> tfma.EvalConfig:
    """The eval config as TFX's Evaluator runs it with a baseline model:
    "candidate" and "baseline" model specs, thresholds per model."""
    return tfma.utils.update_eval_config_with_defaults(
        eval_config, has_baseline=True, rubber_stamp=True)


def rmse_key(model_name: str = "candidate", is_diff: bool = False,
             name: str = "root_mean_squared_error") -> metric_types.MetricKey:
    return metric_types.MetricKey(name=name, model_name=model_name,
                                  is_diff=is_diff)


def write_tfma_validations(evaluations: Dict[str, Tuple[
        tfma.EvalConfig, Sequence[SlicedMetrics]]]) -> None:
    """For each {evaluation uri: (TFX's eval config, metrics per slice)},
    the validations file TFMA's writer writes there: each slice validated
    by TFMA's metrics_validator, merged by its CombineValidations and
    written by the same WriteToTFRecord (one record,
    <uri>/validations.tfrecord), in one Beam pipeline."""
    with beam.Pipeline(options=PipelineOptions(
            ["--direct_running_mode=in_memory",
             "--direct_num_workers=1"])) as pipeline:
        for n, (uri, (eval_config, sliced)) in enumerate(
                sorted(evaluations.items())):
            results = [metrics_validator.validate_metrics(
                sliced_metrics, eval_config) for sliced_metrics in sliced]
            _ = (pipeline
                 | f"Create{n}" >> beam.Create(results)
                 | f"Merge{n}" >> beam.CombineGlobally(
                     tfma_writer.CombineValidations(eval_config))
                 | f"Write{n}" >> beam.io.WriteToTFRecord(
                     file_path_prefix=os.path.join(
                         uri, tfma.constants.VALIDATIONS_KEY),
                     shard_name_template="",
                     file_name_suffix=".tfrecord",
                     coder=beam.coders.ProtoCoder(
                         validation_result_pb2.ValidationResult)))


# ------------------------------------------------------- an executor run


class ExecutorRun:
    """One Executor.Do: its metrics.json, summary and blessing artifact."""

    def __init__(self, root, name: str, examples, model,
                 exec_properties: Dict[str, Any], baseline=None,
                 tfma_blessing=None, tfma_evaluation=None):
        self.evaluation = standard_artifacts.ModelEvaluation()
        self.evaluation.uri = str(root / name / "evaluation")
        self.blessing = standard_artifacts.ModelBlessing()
        self.blessing.uri = str(root / name / "blessing")
        inputs = {"examples": [examples], "model": [model]}
        if baseline is not None:
            inputs["baseline_model"] = [baseline]
        if tfma_blessing is not None:
            inputs["tfma_blessing"] = [tfma_blessing]
        if tfma_evaluation is not None:
            inputs["tfma_evaluation"] = [tfma_evaluation]
        context = base_beam_executor.BaseBeamExecutor.Context(
            tmp_dir=str(root / name / "tmp"), unique_id=name,
            # A plain in-memory DirectRunner: beam_pipeline_args would make
            # TFX build an sdist of itself for the workers.
            make_beam_pipeline_fn=lambda: beam.Pipeline(
                options=PipelineOptions(["--direct_running_mode=in_memory",
                                         "--direct_num_workers=1"])))
        executor.Executor(context=context).Do(
            inputs, {"evaluation": [self.evaluation],
                     "blessing": [self.blessing]},
            exec_properties)
        self.metrics = executor.read_evaluation(self.evaluation.uri)
        with open(os.path.join(self.evaluation.uri,
                               executor.SUMMARY_FILE)) as handle:
            self.summary = handle.read()

    @property
    def blessed(self):
        return self.blessing.get_int_custom_property("blessed")

    def checks(self, passed=None):
        return [c for c in self.metrics["blessing"]["checks"]
                if passed is None or c["passed"] is passed]

    def marker_files(self):
        return sorted(name for name in os.listdir(self.blessing.uri)
                      if name in ("BLESSED", "NOT_BLESSED"))
