"""The Trainer entry point: `run_fn`, called by TFX's GenericExecutor.

Its input is train_input.py, the tables it reads train_tables.py, its
export export.py; here only the order of things and the TF_CONFIG
replicas.
"""
import dataclasses
import time

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tensorflow import estimator as tf_estimator
from tfx.components.trainer.fn_args_utils import FnArgs

from trainer_module import (distributed, export, model, objectives,
                            train_input)
from trainer_module import train_tables
from trainer_module.hparams import CUSTOM_CONFIG_KEY, SUM, HParams

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
    hparams = objectives.hparams_from_dict(
        (fn_args.custom_config or {}).get(CUSTOM_CONFIG_KEY, {}))
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    num_users, num_items = model.vocabulary_sizes(tf_transform_output)
    num_train_rows = train_input.count_records(fn_args.train_files)
    steps = fn_args.train_steps or hparams.steps_for(num_train_rows)
    # runtime/progress.py prints this line: keep its "Training wide-and-deep:"
    # prefix.
    logging.info(
        "Training wide-and-deep: %s for the %s objective, %d train rows, %d "
        "users, %d items (OOV included), %d steps of batch %d%s (the loss "
        "below is %s over each batch)",
        objectives.get(hparams.objective).estimator_class().__name__,
        hparams.objective,
        num_train_rows, num_users, num_items, steps, hparams.batch_size,
        f" ({hparams.positives_per_batch} train rows, each with "
        f"{hparams.negatives_per_positive} sampled negatives)"
        if hparams.negatives_per_positive else "",
        "summed" if hparams.loss_reduction == SUM else "averaged")

    user_history = (train_tables.load_user_history(
        fn_args.train_files, tf_transform_output, hparams, num_users,
        num_items) if hparams.uses_history or hparams.negatives_per_positive
        else None)
    # Each movie's genres: for the sampled negatives, and the served top-k's
    # catalog (read once for both).
    item_genres = (train_tables.read_item_genres(
        fn_args.train_files, tf_transform_output, num_items)
        if hparams.negatives_per_positive else None)
    sampler = (train_tables.negative_table(user_history, item_genres,
                                           num_items)
               if hparams.negatives_per_positive else None)
    estimator = model.build_estimator(
        hparams, num_users, num_items, _run_config(fn_args, hparams, steps),
        user_history=user_history if hparams.uses_history else None)
    # Each replica its own shuffle order and negatives; the base seed
    # locally and on the chief.
    seed = distributed.replica_seed(hparams.random_seed, replica)

    def train_input_fn():
        positives = train_input.train_dataset(
            fn_args.train_files, fn_args.data_accessor, tf_transform_output,
            dataclasses.replace(hparams,
                                batch_size=hparams.positives_per_batch,
                                random_seed=seed),
            num_train_rows)
        return train_input.with_sampled_negatives(positives, sampler,
                                                  hparams, seed)

    def eval_input_fn():
        # The eval positives with negatives drawn as in training (they may
        # hit a movie the user rated in eval: TFMA's eval negatives, from
        # the NegativeSampler, are the exact ones; these are for
        # TensorBoard).
        eval_rows = train_input.batched_dataset(
            fn_args.eval_files, fn_args.data_accessor, tf_transform_output,
            hparams.positives_per_batch, num_epochs=1)
        return train_input.with_sampled_negatives(
            eval_rows, sampler, hparams, hparams.random_seed + 1)

    if replica is None:
        started = time.time()
        estimator.train(train_input_fn, max_steps=steps)
        seconds = time.time() - started
    else:
        seconds = train_replica(estimator, replica, fn_args, train_input_fn,
                                eval_input_fn, steps, seed)
        if not replica.is_chief:
            return
    export.write_training_stats(fn_args.model_run_dir, steps,
                                hparams.batch_size, seconds)
    # One evaluation at the end: it writes the eval summaries TensorBoard
    # shows beside the training loss (at most fn_args.eval_steps batches:
    # pipeline/configs.py TRAINER_EVAL_STEPS).
    metrics = estimator.evaluate(eval_input_fn, steps=fn_args.eval_steps,
                                 name="eval")
    logging.info("Eval on the eval split: %s", metrics)
    export.export_serving_model(
        estimator, tf_transform_output, fn_args.serving_model_dir,
        hparams.objective,
        train_tables.topk_tables(fn_args.train_files, tf_transform_output,
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
