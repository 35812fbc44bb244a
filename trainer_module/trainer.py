"""The Trainer entry point: `run_fn`, called by TFX's GenericExecutor."""
import tempfile
from typing import List

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tensorflow import estimator as tf_estimator
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.public import tfxio

from trainer_module import features, model
from trainer_module.hparams import CUSTOM_CONFIG_KEY, HParams


def run_fn(fn_args: FnArgs) -> None:
    """Trains the estimator and exports the serving SavedModel.

    TensorBoard summaries (training loss, eval metrics) land in
    fn_args.model_run_dir; the SavedModel in fn_args.serving_model_dir.
    """
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
        "users, %d items (OOV included), %d steps of batch %d",
        model.estimator_class(hparams.objective).__name__, hparams.objective,
        num_train_rows, num_users, num_items, steps, hparams.batch_size)

    estimator = model.build_estimator(
        hparams, num_users, num_items, _run_config(fn_args, hparams, steps))

    def train_input_fn():
        return train_dataset(fn_args.train_files, fn_args.data_accessor,
                             tf_transform_output, hparams)

    def eval_input_fn():
        return _input_fn(fn_args.eval_files, fn_args.data_accessor,
                         tf_transform_output, hparams.batch_size,
                         num_epochs=1)

    estimator.train(train_input_fn, max_steps=steps)
    # One evaluation at the end: it writes the eval summaries TensorBoard
    # shows beside the training loss.
    metrics = estimator.evaluate(eval_input_fn, name="eval")
    logging.info("Eval on the eval split: %s", metrics)
    export_serving_model(estimator, tf_transform_output,
                         fn_args.serving_model_dir, hparams.objective)


def export_serving_model(estimator: tf_estimator.Estimator,
                         tf_transform_output: tft.TFTransformOutput,
                         serving_model_dir: str,
                         objective: str = features.RATING_OBJECTIVE) -> None:
    """Exports the estimator, then re-saves it with TF2 signatures.

    The result lands in serving_model_dir itself (the estimator alone would
    write a timestamped child) with the signatures of model.ServingModule
    for `objective`, the one the estimator was built for.
    """
    with tempfile.TemporaryDirectory() as export_base:
        exported = estimator.export_saved_model(
            export_base, model.serving_receiver_fn(tf_transform_output))
        module = model.ServingModule(tf.saved_model.load(exported), objective)
        tf.saved_model.save(module, serving_model_dir,
                            signatures=module.signatures())
    logging.info("Exported the serving model to %s", serving_model_dir)


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
                  hparams: HParams) -> tf.data.Dataset:
    """Shuffled batches of the train split, repeated without end.

    With several train splits (the NegativeSampler's rounds) each pass reads
    them one after the other, each shuffled on its own, as the epochs of
    the ranking recipe: every round has each rating once.
    """
    if len(train_files) == 1:
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
