"""The Transform step: id vocabularies and multi-hot genres.

TFX's Transform component calls `preprocessing_fn` (by its dotted path) once
over the training data to build the vocabularies, and the same graph is
embedded in the exported model, so serving sees exactly these features.

The training objective comes in Transform's custom_config under OBJECTIVE_KEY
(TFX 1.15 binds custom_config to a preprocessing_fn that declares the
argument); without it the objective is rating.
"""
from typing import Any, Dict, Optional

import tensorflow as tf
import tensorflow_transform as tft

import movielens_features as features

# Key of the training objective (features.OBJECTIVES) in Transform's

from trainer_module import objectives

# Key of the training objective (features.OBJECTIVES) in Transform's
# custom_config.
OBJECTIVE_KEY = "objective"


def preprocessing_fn(inputs: Dict[str, tf.Tensor],
                     custom_config: Optional[Dict[str, Any]] = None
                     ) -> Dict[str, tf.Tensor]:
    """Maps raw columns to the model's features.

    user_id, item_id -> vocabulary index; ids unseen in the analyzed data map
        to the OOV bucket (index == vocabulary size), never to -1.
    genres -> float multi-hot vector with one slot per `features.GENRES`;
        unknown genre names and the empty string give no slot.
    rating -> the float label, under the same name for both objectives:
        rating: the rating itself; ranking: 1.0 for a rated pair, 0.0 for
        a sampled negative.
    """
    objective = objective_from(custom_config)
    genres = multi_hot_genres(dense_genre_strings(inputs[features.GENRES_KEY]))
    outputs = {
        features.transformed_name(features.USER_KEY): _id_to_index(
            inputs[features.USER_KEY], features.USER_VOCAB_NAME),
        features.transformed_name(features.ITEM_KEY): _id_to_index(
            inputs[features.ITEM_KEY], features.ITEM_VOCAB_NAME),
        features.transformed_name(features.GENRES_KEY): genres,
    }
    if features.LABEL_KEY in inputs:
        outputs[features.transformed_name(features.LABEL_KEY)] = (
            objective.label(tf.cast(_squeeze(inputs[features.LABEL_KEY]),
                                    tf.float32)))
    return outputs


def objective_from(custom_config: Optional[Dict[str, Any]]
                   ) -> objectives.Objective:
    """The objective in Transform's custom_config; rating when absent."""
    name = (custom_config or {}).get(OBJECTIVE_KEY, features.RATING_OBJECTIVE)
    if name not in features.OBJECTIVES:
        raise ValueError(f"custom_config[{OBJECTIVE_KEY!r}] must be one of "
                         f"{list(features.OBJECTIVES)}, got {name!r}")
    return objectives.get(name)


def _id_to_index(ids: tf.Tensor, vocab_name: str) -> tf.Tensor:
    # Integer ids go through the vocabulary as strings: the vocabulary file
    # then holds the original ids, readable by people and by `recommend`.
    return tft.compute_and_apply_vocabulary(
        tf.strings.as_string(_squeeze(ids)),
        num_oov_buckets=features.NUM_OOV_BUCKETS,
        vocab_filename=vocab_name)


def multi_hot_genres(genres: tf.Tensor) -> tf.Tensor:
    """[batch] '|'-joined genre strings -> [batch, len(GENRES)] float 0/1."""
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(features.GENRES),
            tf.range(len(features.GENRES), dtype=tf.int64)),
        default_value=-1)
    # Splitting always yields at least one token per row ("" for an empty
    # string), so the max over tokens is a dense [batch, width] tensor.
    tokens = tf.strings.split(genres, features.GENRE_SEPARATOR)
    indices = tf.ragged.map_flat_values(table.lookup, tokens)
    # one_hot of -1 (an unknown or empty token) is an all-zero row.
    one_hot = tf.one_hot(indices, depth=len(features.GENRES), dtype=tf.float32)
    return tf.ensure_shape(tf.reduce_max(one_hot, axis=1),
                           [None, len(features.GENRES)])


def dense_genre_strings(values: tf.Tensor) -> tf.Tensor:
    """genres as parsed ([batch, 0 or 1] sparse: an empty CSV cell has no
    value) -> [batch] strings, "" where there was no value."""
    if isinstance(values, tf.SparseTensor):
        values = tf.sparse.to_dense(
            tf.sparse.reset_shape(values, [values.dense_shape[0], 1]),
            default_value="")
    return _squeeze(values)


def _squeeze(values: tf.Tensor) -> tf.Tensor:
    # CsvExampleGen columns arrive as [batch, 1]; the model wants [batch].
    return tf.reshape(values, [-1])
