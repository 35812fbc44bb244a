"""The Trainer's input: the train split as shuffled batches (in memory when
it fits, else streamed), the eval split, and the ranking objective's
sampled negatives added in the input pipeline."""
from typing import List, Optional

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import DataAccessor
from tfx_bsl.public import tfxio

import movielens_features as features

from trainer_module import negatives
from trainer_module.hparams import HParams

# A train split up to this size is kept in memory (in_memory_dataset):
# MovieLens-1m's is about 80 MB; larger data streams from its files.
IN_MEMORY_MAX_BYTES = 1 << 30


def count_records(file_patterns: List[str]) -> int:
    """Number of examples in the gzipped TFRecord files."""
    files = [path for pattern in file_patterns
             for path in tf.io.gfile.glob(pattern)]
    if not files:
        raise ValueError(f"no training examples match {file_patterns}")
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return int(dataset.reduce(0, lambda count, _: count + 1))


def train_dataset(train_files: List[str], data_accessor: DataAccessor,
                  tf_transform_output: tft.TFTransformOutput,
                  hparams: HParams,
                  num_rows: Optional[int] = None) -> tf.data.Dataset:
    """Shuffled batches of the train split, repeated without end.

    `train_files` is the one train split's file pattern. A split of
    `num_rows` rows that fits in IN_MEMORY_MAX_BYTES is parsed once and
    then served from memory, reshuffled whole every epoch; otherwise it
    streams from its files through a shuffle buffer.
    """
    if len(train_files) != 1:
        raise ValueError(
            f"the Trainer reads one train split (one file pattern), got "
            f"{len(train_files)}: {train_files}")
    if num_rows and (num_rows * _row_bytes(tf_transform_output)
                     <= IN_MEMORY_MAX_BYTES):
        return in_memory_dataset(train_files, data_accessor,
                                 tf_transform_output, hparams.batch_size,
                                 num_rows, hparams.random_seed)
    return batched_dataset(train_files, data_accessor, tf_transform_output,
                           hparams.batch_size,
                           shuffle_seed=hparams.random_seed)


def in_memory_dataset(file_pattern: List[str], data_accessor: DataAccessor,
                      tf_transform_output: tft.TFTransformOutput,
                      batch_size: int, num_rows: int,
                      seed: int) -> tf.data.Dataset:
    """Every transformed row, parsed once and kept in memory; then per
    epoch a fresh permutation of the rows, cut into batches.

    Parsing gzipped tf.Examples at every step costs as much as a small
    model's whole step on two cores (README, Benchmarks).
    """
    whole = batched_dataset(file_pattern, data_accessor, tf_transform_output,
                            batch_size=num_rows, num_epochs=1)  # one element

    def shuffled_batches(columns, labels):
        order = tf.random.shuffle(tf.range(tf.shape(labels)[0],
                                           dtype=tf.int64), seed=seed)
        return tf.data.Dataset.from_tensor_slices(order).batch(
            batch_size).map(lambda rows: (
                {name: tf.gather(values, rows)
                 for name, values in columns.items()},
                tf.gather(labels, rows)))
    return whole.cache().repeat().flat_map(shuffled_batches).prefetch(
        tf.data.AUTOTUNE)


def _row_bytes(tf_transform_output: tft.TFTransformOutput) -> int:
    """Upper bound of one transformed row's size in memory (8 bytes a
    value, as int64)."""
    values = 0
    for feature in tf_transform_output.transformed_metadata.schema.feature:
        dims = [dim.size for dim in feature.shape.dim] or [1]
        values += max(1, int(np.prod(dims)))
    return 8 * values


def batched_dataset(file_pattern: List[str], data_accessor: DataAccessor,
                    tf_transform_output: tft.TFTransformOutput,
                    batch_size: int, num_epochs: Optional[int] = None,
                    shuffle_seed: Optional[int] = None) -> tf.data.Dataset:
    """(features, label) batches of transformed examples through TFXIO,
    streamed from the files (shuffled through a buffer with a seed)."""
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=batch_size,
            label_key=features.transformed_name(features.LABEL_KEY),
            num_epochs=num_epochs,
            shuffle=shuffle_seed is not None,
            shuffle_seed=shuffle_seed),
        tf_transform_output.transformed_metadata.schema)


def with_sampled_negatives(dataset: tf.data.Dataset,
                           table: Optional[negatives.NegativeTable],
                           hparams: HParams, seed: int) -> tf.data.Dataset:
    """Batches of positives with hparams.negatives_per_positive sampled
    negatives each (the ranking objective); unchanged without a table."""
    if table is None:
        return dataset
    return negatives.with_negatives(dataset, table,
                                    hparams.negatives_per_positive, seed)
