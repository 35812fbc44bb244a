"""The Trainer entry point: `run_fn`, called by TFX's GenericExecutor."""
import dataclasses
import json
import os
import tempfile
import time
from typing import List, Optional

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tensorflow import estimator as tf_estimator
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.public import tfxio

from trainer_module import (distributed, features, history, model, negatives,
                            topk_serving)
from trainer_module.hparams import CUSTOM_CONFIG_KEY, SUM, HParams

# Written into the model_run artifact after training (write_training_stats).
TRAINING_STATS_FILE = "training_stats.json"
# A single train split up to this size is kept in memory (in_memory_dataset):
# MovieLens-1m's is about 80 MB; larger data streams from its files.
IN_MEMORY_MAX_BYTES = 1 << 30
# An evaluator replica (optional in a TF_CONFIG cluster) evaluates the
# newest checkpoint at most this often.
EVALUATOR_THROTTLE_SECS = 60


def run_fn(fn_args: FnArgs) -> None:
    """Trains the estimator and exports the serving SavedModel.

    TensorBoard summaries (training loss, eval metrics) land in
    fn_args.model_run_dir; the SavedModel in fn_args.serving_model_dir.
    Under a TF_CONFIG cluster this process is one replica (distributed.py):
    only the chief writes the training stats, evaluates and exports.
    """
    replica = distributed.current_replica()
    if replica is not None and replica.task_type == distributed.PS:
        # A ps only holds variables: no data to read, no graph to build.
        distributed.serve_until_trained(fn_args.model_run_dir, replica)
        _leave_serving_model_dir(fn_args, replica, {})
        return
    hparams = HParams.from_dict(
        (fn_args.custom_config or {}).get(CUSTOM_CONFIG_KEY, {}))
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    num_users, num_items = model.vocabulary_sizes(tf_transform_output)
    num_train_rows = count_records(fn_args.train_files)
    steps = fn_args.train_steps or hparams.steps_for(num_train_rows)
    # pipeline/progress.py prints this line: keep its "Training wide-and-deep:"
    # prefix.
    logging.info(
        "Training wide-and-deep: %s for the %s objective, %d train rows, %d "
        "users, %d items (OOV included), %d steps of batch %d%s (the loss "
        "below is %s over each batch)",
        model.estimator_class(hparams.objective).__name__, hparams.objective,
        num_train_rows, num_users, num_items, steps, hparams.batch_size,
        f" ({hparams.positives_per_batch} train rows, each with "
        f"{hparams.negatives_per_positive} sampled negatives)"
        if hparams.negatives_per_positive else "",
        "summed" if hparams.loss_reduction == SUM else "averaged")

    user_history = (load_user_history(fn_args.train_files,
                                      tf_transform_output, hparams,
                                      num_users, num_items)
                    if hparams.uses_history
                    or hparams.negatives_per_positive else None)
    # Each movie's genres: for the sampled negatives, and the served top-k's
    # catalog (read once for both).
    item_genres = (read_item_genres(fn_args.train_files, tf_transform_output,
                                    num_items)
                   if hparams.negatives_per_positive else None)
    sampler = (negative_table(user_history, item_genres, num_items)
               if hparams.negatives_per_positive else None)
    estimator = model.build_estimator(
        hparams, num_users, num_items, _run_config(fn_args, hparams, steps),
        train_steps=steps,
        user_history=user_history if hparams.uses_history else None)
    # Each replica its own shuffle order and negatives; the base seed
    # locally and on the chief.
    seed = distributed.replica_seed(hparams.random_seed, replica)

    def train_input_fn():
        positives = train_dataset(
            fn_args.train_files, fn_args.data_accessor, tf_transform_output,
            dataclasses.replace(hparams,
                                batch_size=hparams.positives_per_batch,
                                random_seed=seed),
            num_train_rows)
        return with_sampled_negatives(positives, sampler, hparams, seed)

    def eval_input_fn():
        # The eval positives with negatives drawn as in training (they may
        # hit a movie the user rated in eval: TFMA's eval negatives, from
        # the NegativeSampler, are the exact ones; these are for
        # TensorBoard).
        eval_rows = _input_fn(
            fn_args.eval_files, fn_args.data_accessor, tf_transform_output,
            hparams.positives_per_batch, num_epochs=1)
        return with_sampled_negatives(eval_rows, sampler, hparams,
                                      hparams.random_seed + 1)

    if replica is None:
        started = time.time()
        estimator.train(train_input_fn, max_steps=steps)
        seconds = time.time() - started
    else:
        seconds = train_replica(estimator, replica, fn_args, train_input_fn,
                                eval_input_fn, steps, seed)
        if not replica.is_chief:
            return
    write_training_stats(fn_args.model_run_dir, steps, hparams.batch_size,
                         seconds)
    # One evaluation at the end: it writes the eval summaries TensorBoard
    # shows beside the training loss (at most fn_args.eval_steps batches:
    # pipeline/configs.py TRAINER_EVAL_STEPS).
    metrics = estimator.evaluate(eval_input_fn, steps=fn_args.eval_steps,
                                 name="eval")
    logging.info("Eval on the eval split: %s", metrics)
    export_serving_model(estimator, tf_transform_output,
                         fn_args.serving_model_dir, hparams.objective,
                         topk_tables(fn_args.train_files, tf_transform_output,
                                     user_history, item_genres, num_users,
                                     num_items))


def train_replica(estimator: tf_estimator.Estimator,
                  replica: distributed.Replica, fn_args: FnArgs,
                  train_input_fn, eval_input_fn, steps: int,
                  seed: int) -> float:
    """Trains (chief, workers) or evaluates each new checkpoint (an
    evaluator) as one replica of the TF_CONFIG cluster, through
    train_and_evaluate, which starts this replica's server (estimator.train
    alone waits forever for servers nobody started); then leaves its done
    marker. Returns the seconds it took."""
    counter = _StepCounter()
    started = time.time()
    tf_estimator.train_and_evaluate(
        estimator,
        tf_estimator.TrainSpec(train_input_fn, max_steps=steps,
                               hooks=[counter]),
        tf_estimator.EvalSpec(eval_input_fn, steps=fn_args.eval_steps,
                              start_delay_secs=0,
                              throttle_secs=EVALUATOR_THROTTLE_SECS))
    seconds = time.time() - started
    logging.info("Replica %s ran %d of the %d steps in %.1f s",
                 replica.name, counter.count, steps, seconds)
    stats = {"local_steps": counter.count, "seconds": round(seconds, 2),
             "seed": seed}
    if replica.is_chief:
        # The ps may stop now: evaluation and export read the checkpoint.
        distributed.mark_done(fn_args.model_run_dir, replica, stats)
    else:
        _leave_serving_model_dir(fn_args, replica, stats)
    return seconds


def _leave_serving_model_dir(fn_args: FnArgs, replica: distributed.Replica,
                             stats: dict) -> None:
    """A replica other than the chief: its done marker, and its own folder
    as fn_args.serving_model_dir, which TFX's GenericExecutor requires to
    exist after run_fn; the Model artifact holds the chief's export only."""
    fn_args.serving_model_dir = distributed.mark_done(
        fn_args.model_run_dir, replica, stats)
    logging.info("Replica %s exports no model (the chief does)",
                 replica.name)


class _StepCounter(tf.compat.v1.train.SessionRunHook):
    """Counts the training steps this replica runs."""

    def __init__(self):
        self.count = 0

    def after_run(self, run_context, run_values) -> None:
        self.count += 1


def load_user_history(train_files: List[str],
                      tf_transform_output: tft.TFTransformOutput,
                      hparams: HParams, num_users: int, num_items: int
                      ) -> history.UserHistory:
    """The train split's positives as the history table (history.py)."""
    users, items = history.read_positive_pairs(train_files,
                                               tf_transform_output)
    table = history_table(hparams, users, items, num_users, num_items)
    logging.info("User history: %d (user, movie) pairs of %d users%s",
                 len(table.items), num_users,
                 f", with the EASE inverse of {num_items} movies (L2 "
                 f"{hparams.ease_l2:g})" if hparams.item_ease_feature else "")
    return table


def read_item_genres(train_files: List[str],
                     tf_transform_output: tft.TFTransformOutput,
                     num_items: int) -> np.ndarray:
    """[catalog, len(GENRES)]: the multi-hot genres of each movie of the
    item vocabulary (without its OOV bucket) in the train split."""
    return negatives.read_item_genres(
        train_files, tf_transform_output,
        num_items - features.NUM_OOV_BUCKETS)


def negative_table(user_history: history.UserHistory,
                   item_genres: np.ndarray,
                   num_items: int) -> negatives.NegativeTable:
    """What the in-graph negative sampler draws from: the catalog (the item
    vocabulary, without its OOV bucket), each item's genres
    (read_item_genres) and each user's train movies (never drawn for
    them)."""
    catalog_size = num_items - features.NUM_OOV_BUCKETS
    table = negatives.build_negative_table(user_history, catalog_size,
                                           item_genres)
    logging.info("Negatives: sampled in the input pipeline from %d movies, "
                 "never one a user rated in train (%d user-movie pairs)",
                 catalog_size, len(user_history.items))
    return table


def with_sampled_negatives(dataset: tf.data.Dataset,
                           table: Optional[negatives.NegativeTable],
                           hparams: HParams, seed: int) -> tf.data.Dataset:
    """Batches of positives with hparams.negatives_per_positive sampled
    negatives each (the ranking objective); unchanged without a table."""
    if table is None:
        return dataset
    return negatives.with_negatives(dataset, table,
                                    hparams.negatives_per_positive, seed)


def history_table(hparams: HParams, users, items, num_users: int,
                  num_items: int) -> history.UserHistory:
    """The table of the positives (user, item), with what the model's
    item-item scores need (with_item_scores)."""
    return with_item_scores(
        history.build_user_history(users, items, num_users), hparams,
        num_items)


def with_item_scores(table: history.UserHistory, hparams: HParams,
                     num_items: int) -> history.UserHistory:
    """`table` with the item co-occurrence when hparams.item_knn_feature
    (the kNN score needs it) and the EASE inverse when
    hparams.item_ease_feature; without either otherwise, so the input
    computes no score the model does not read."""
    table = table._replace(cooccurrence=None, ease_inverse=None,
                           ease_self=None)
    if hparams.item_knn_feature:
        table = history.with_cooccurrence(table, num_items)
    if hparams.item_ease_feature:
        table = history.with_ease(table, num_items, hparams.ease_l2)
    return table


def topk_tables(train_files: List[str],
                tf_transform_output: tft.TFTransformOutput,
                user_history: Optional[history.UserHistory],
                item_genres: Optional[np.ndarray], num_users: int,
                num_items: int) -> topk_serving.TopKTables:
    """What the served top-k ranks (topk_serving.build_tables): the train
    split's movies and each train user's, from the history table and the
    movies' genres when training read them already, else from the train
    files."""
    if user_history is None:
        user_history = history.build_user_history(
            *history.read_positive_pairs(train_files, tf_transform_output),
            num_users)
    if item_genres is None:
        item_genres = read_item_genres(train_files, tf_transform_output,
                                       num_items)
    tables = topk_serving.build_tables(
        user_history,
        tf_transform_output.vocabulary_by_name(features.USER_VOCAB_NAME),
        tf_transform_output.vocabulary_by_name(features.ITEM_VOCAB_NAME),
        item_genres)
    logging.info("Served top-k: %d movies, %d train users, %d (user, movie) "
                 "pairs excluded", len(tables.item_ids), len(tables.user_ids),
                 len(tables.seen))
    return tables


def export_serving_model(estimator: tf_estimator.Estimator,
                         tf_transform_output: tft.TFTransformOutput,
                         serving_model_dir: str,
                         objective: str = features.RATING_OBJECTIVE,
                         topk: Optional[topk_serving.TopKTables] = None
                         ) -> None:
    """Exports the estimator, then re-saves it with TF2 signatures.

    The result lands in serving_model_dir itself (the estimator alone would
    write a timestamped child) with the signatures of model.ServingModule
    for `objective`, the one the estimator was built for, and with `topk`
    (topk_tables) the top-k signature; the history and top-k tables, when
    there are any, among its variables.
    """
    with tempfile.TemporaryDirectory() as export_base:
        exported = estimator.export_saved_model(
            export_base, model.serving_receiver_fn(tf_transform_output))
        module = model.ServingModule(tf.saved_model.load(exported), objective,
                                     topk)
        tf.saved_model.save(module, serving_model_dir,
                            signatures=module.signatures())
    logging.info("Exported the serving model to %s", serving_model_dir)


def write_training_stats(model_run_dir: str, steps: int, batch_size: int,
                         seconds: float) -> None:
    """TRAINING_STATS_FILE in the model_run artifact: how fast it trained
    (the pipeline benchmark compares its steps/s with the notebook's)."""
    stats = {"steps": steps, "batch_size": batch_size,
             "train_seconds": round(seconds, 2),
             "steps_per_second": round(steps / max(seconds, 1e-9), 2)}
    with tf.io.gfile.GFile(os.path.join(model_run_dir, TRAINING_STATS_FILE),
                           "w") as handle:
        json.dump(stats, handle)
    logging.info("Trained %d steps in %.1f s (%.1f steps/s)", steps,
                 seconds, stats["steps_per_second"])


def count_records(file_patterns: List[str]) -> int:
    """Number of examples in the gzipped TFRecord files."""
    files = [path for pattern in file_patterns
             for path in tf.io.gfile.glob(pattern)]
    if not files:
        raise ValueError(f"no training examples match {file_patterns}")
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return int(dataset.reduce(0, lambda count, _: count + 1))


def _run_config(fn_args: FnArgs, hparams: HParams,
                steps: int) -> tf_estimator.RunConfig:
    log_every = max(1, steps // 20)  # as the seed: log 20 times
    return tf_estimator.RunConfig(
        model_dir=fn_args.model_run_dir,
        tf_random_seed=hparams.random_seed,
        save_checkpoints_steps=max(1, steps // 5),
        save_summary_steps=log_every,
        log_step_count_steps=log_every,
        keep_checkpoint_max=1)


def train_dataset(train_files: List[str], data_accessor: DataAccessor,
                  tf_transform_output: tft.TFTransformOutput,
                  hparams: HParams,
                  num_rows: Optional[int] = None) -> tf.data.Dataset:
    """Shuffled batches of the train split, repeated without end.

    A single train split of `num_rows` rows that fits in IN_MEMORY_MAX_BYTES
    is parsed once and then served from memory, reshuffled whole every
    epoch; otherwise it streams from its files through a shuffle buffer.
    With several train splits (the NegativeSampler's rounds) each pass reads
    them one after the other, each shuffled on its own, as the epochs of
    the ranking recipe: every round has each rating once.
    """
    if len(train_files) == 1:
        if num_rows and (num_rows * _row_bytes(tf_transform_output)
                         <= IN_MEMORY_MAX_BYTES):
            return in_memory_dataset(train_files, data_accessor,
                                     tf_transform_output, hparams.batch_size,
                                     num_rows, hparams.random_seed)
        return _input_fn(train_files, data_accessor, tf_transform_output,
                         hparams.batch_size, shuffle_seed=hparams.random_seed)
    rounds = [_input_fn([pattern], data_accessor, tf_transform_output,
                        hparams.batch_size, num_epochs=1,
                        shuffle_seed=hparams.random_seed + index)
              for index, pattern in enumerate(train_files)]
    dataset = rounds[0]
    for following in rounds[1:]:
        dataset = dataset.concatenate(following)
    return dataset.repeat()


def in_memory_dataset(file_pattern: List[str], data_accessor: DataAccessor,
                      tf_transform_output: tft.TFTransformOutput,
                      batch_size: int, num_rows: int,
                      seed: int) -> tf.data.Dataset:
    """Every transformed row, parsed once and kept in memory; then per
    epoch a fresh permutation of the rows, cut into batches.

    Parsing gzipped tf.Examples at every step costs as much as a small
    model's whole step on two cores (README, Benchmarks).
    """
    whole = _input_fn(file_pattern, data_accessor, tf_transform_output,
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


def _input_fn(file_pattern: List[str], data_accessor: DataAccessor,
              tf_transform_output: tft.TFTransformOutput, batch_size: int,
              num_epochs=None, shuffle_seed=None) -> tf.data.Dataset:
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=batch_size,
            label_key=features.transformed_name(features.LABEL_KEY),
            num_epochs=num_epochs,
            shuffle=shuffle_seed is not None,
            shuffle_seed=shuffle_seed),
        tf_transform_output.transformed_metadata.schema)
