"""What the Trainer leaves: the serving SavedModel with the project's
signatures, and how fast it trained."""
import json
import os
import tempfile
from typing import Optional

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tensorflow import estimator as tf_estimator

import movielens_features as features

# Written into the model_run artifact after training (write_training_stats).

from trainer_module import model, topk_serving

# Written into the model_run artifact after training (write_training_stats).
TRAINING_STATS_FILE = "training_stats.json"


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
