"""Scores (user, item) pairs with an exported model, in large batches.

Uses the model's own `serving_raw` signature: the same Transform graph and
estimator as serving, fed plain tensors instead of serialized tf.Examples, so
no proto is built per pair. The recommend command uses this module too.
"""
from typing import Tuple

import numpy as np
import tensorflow as tf

from trainer_module.model import PREDICTION_KEY, RAW_SIGNATURE, SCORE_KEY

# Pairs per signature call: large enough to keep both cores' matmuls busy,
# small enough to bound memory (~100 MB of activations for the seed model).
DEFAULT_BATCH_SIZE = 32768


class ModelScorer:
    """A loaded serving model that scores arrays of raw features."""

    def __init__(self, saved_model_dir: str,
                 batch_size: int = DEFAULT_BATCH_SIZE):
        self._model = tf.saved_model.load(saved_model_dir)
        if RAW_SIGNATURE not in self._model.signatures:
            raise ValueError(
                f"the model at {saved_model_dir} has no {RAW_SIGNATURE!r} "
                f"signature (it has {sorted(self._model.signatures)}); it "
                f"was not exported by trainer_module.trainer")
        self._signature = self._model.signatures[RAW_SIGNATURE]
        self._batch_size = batch_size

    def predict(self, user_ids: np.ndarray, item_ids: np.ndarray,
                genres: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(ratings clipped to the scale, unclipped ranking scores), float32."""
        predictions, scores = [], []
        for start in range(0, len(user_ids), self._batch_size):
            batch = slice(start, start + self._batch_size)
            outputs = self._signature(
                user_id=tf.constant(user_ids[batch], tf.int64),
                item_id=tf.constant(item_ids[batch], tf.int64),
                genres=tf.constant(genres[batch], tf.string))
            predictions.append(outputs[PREDICTION_KEY].numpy().reshape(-1))
            scores.append(outputs[SCORE_KEY].numpy().reshape(-1))
        if not predictions:
            empty = np.zeros(0, np.float32)
            return empty, empty
        return np.concatenate(predictions), np.concatenate(scores)
