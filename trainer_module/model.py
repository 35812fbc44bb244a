"""The seed notebook's wide-and-deep estimator over the Transform outputs."""
from typing import Dict, List, Tuple

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow import estimator as tf_estimator

from trainer_module import features, preprocessing
from trainer_module.hparams import HParams

# Signatures of the exported model. SERVING_SIGNATURE takes serialized raw
# tf.Examples (TF Serving, TFMA) and returns the predicted rating, clipped to
# the rating scale. RAW_SIGNATURE takes the raw columns as plain tensors, so
# batch scorers skip building tf.Example protos, and also returns the
# unclipped score, which ranks without ties at the top of the scale.
SERVING_SIGNATURE = "serving_default"
RAW_SIGNATURE = "serving_raw"
PREDICTION_KEY = "predictions"
SCORE_KEY = "scores"
# Names the estimator's own export gives its signatures.
_ESTIMATOR_PREDICT_SIGNATURE = "predict"
_ESTIMATOR_RAW_SIGNATURE = "raw:predict"


def vocabulary_sizes(tf_transform_output: tft.TFTransformOutput) -> Tuple[int, int]:
    """(users, items) in the Transform vocabularies, OOV buckets included."""
    return tuple(
        tf_transform_output.vocabulary_size_by_name(name)
        + features.NUM_OOV_BUCKETS
        for name in (features.USER_VOCAB_NAME, features.ITEM_VOCAB_NAME))


def feature_columns(hparams: HParams, num_users: int, num_items: int
                    ) -> Tuple[List, List]:
    """(wide columns, deep columns) as in the seed's tf_utils.build_model."""
    user = tf.feature_column.categorical_column_with_identity(
        features.transformed_name(features.USER_KEY), num_buckets=num_users)
    item = tf.feature_column.categorical_column_with_identity(
        features.transformed_name(features.ITEM_KEY), num_buckets=num_items)
    wide = [tf.feature_column.crossed_column(
        [user, item], hash_bucket_size=hparams.crossed_hash_buckets)]
    deep = [
        tf.feature_column.embedding_column(
            user, dimension=hparams.user_embedding_dim, max_norm=None),
        tf.feature_column.embedding_column(
            item, dimension=hparams.item_embedding_dim, max_norm=None),
        tf.feature_column.numeric_column(
            features.transformed_name(features.GENRES_KEY),
            shape=(len(features.GENRES),)),
    ]
    return wide, deep


def build_estimator(hparams: HParams, num_users: int, num_items: int,
                    config: tf_estimator.RunConfig
                    ) -> tf_estimator.DNNLinearCombinedRegressor:
    """DNNLinearCombinedRegressor: FTRL on the cross, Adagrad on the DNN."""
    wide, deep = feature_columns(hparams, num_users, num_items)
    return tf_estimator.DNNLinearCombinedRegressor(
        config=config,
        linear_feature_columns=wide,
        linear_optimizer=tf.keras.optimizers.legacy.Ftrl(
            learning_rate=hparams.linear_learning_rate,
            l1_regularization_strength=hparams.linear_l1),
        dnn_feature_columns=deep,
        dnn_optimizer=tf.keras.optimizers.legacy.Adagrad(
            learning_rate=hparams.dnn_learning_rate),
        dnn_hidden_units=list(hparams.hidden_units),
        dnn_dropout=hparams.dropout,
        batch_norm=hparams.batch_norm)


def serving_receiver_fn(tf_transform_output: tft.TFTransformOutput):
    """Returns the export-time input function: raw examples in, features out.

    The serving graph parses serialized tf.Examples that carry no label,
    applies the Transform graph and feeds the model. A second signature
    (RAW_SIGNATURE) accepts the parsed raw columns directly.
    """
    def receiver_fn() -> tf_estimator.export.ServingInputReceiver:
        serialized = tf.compat.v1.placeholder(
            dtype=tf.string, shape=[None], name="input_example_tensor")
        # Placeholders with defaults: fed by the raw signature, computed
        # from the parsed examples otherwise.
        raw = {key: tf.compat.v1.placeholder_with_default(value, [None],
                                                           name=key)
               for key, value in parse_raw_examples(serialized).items()}
        transformed = tf_transform_output.transform_raw_features(
            _as_transform_inputs(raw), drop_unused_features=True)
        return tf_estimator.export.ServingInputReceiver(
            transformed, {"examples": serialized},
            receiver_tensors_alternatives={"raw": raw})
    return receiver_fn


def parse_raw_examples(serialized: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Serialized label-free tf.Examples -> {column: [batch] tensor}.

    user_id and item_id are required; a missing or empty genres feature
    reads as "" (no genre).
    """
    parsed = tf.io.parse_example(serialized, {
        features.USER_KEY: tf.io.FixedLenFeature([], tf.int64),
        features.ITEM_KEY: tf.io.FixedLenFeature([], tf.int64),
        # VarLen: CsvExampleGen writes an empty cell as a feature with no
        # value, which a FixedLenFeature refuses.
        features.GENRES_KEY: tf.io.VarLenFeature(tf.string),
    })
    parsed[features.GENRES_KEY] = preprocessing.dense_genre_strings(
        parsed[features.GENRES_KEY])
    return parsed


def _as_transform_inputs(raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    # The Transform graph was traced on TFXIO's tensors: ids [batch, 1], genres
    # sparse with no value for an empty string.
    inputs = {key: tf.expand_dims(raw[key], -1)
              for key in (features.USER_KEY, features.ITEM_KEY)}
    inputs[features.GENRES_KEY] = tf.sparse.from_dense(
        tf.expand_dims(raw[features.GENRES_KEY], -1))
    return inputs


class ServingModule(tf.Module):
    """TF2 signatures around the estimator's TF1 export.

    TFMA calls a signature with one positional tensor of serialized examples,
    which the estimator's TF1 signatures refuse; re-saving through
    tf.functions gives signatures that accept it and that TF Serving serves.
    """

    def __init__(self, estimator_export: tf.Module):
        super().__init__()
        self._export = estimator_export

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, examples: tf.Tensor) -> Dict[str, tf.Tensor]:
        scores = self._export.signatures[_ESTIMATOR_PREDICT_SIGNATURE](
            examples=examples)[PREDICTION_KEY]
        return {PREDICTION_KEY: _clip_to_rating_scale(scores)}

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.int64, name=features.USER_KEY),
        tf.TensorSpec([None], tf.int64, name=features.ITEM_KEY),
        tf.TensorSpec([None], tf.string, name=features.GENRES_KEY)])
    def serve_raw(self, user_id: tf.Tensor, item_id: tf.Tensor,
                  genres: tf.Tensor) -> Dict[str, tf.Tensor]:
        scores = self._export.signatures[_ESTIMATOR_RAW_SIGNATURE](
            **{features.USER_KEY: user_id, features.ITEM_KEY: item_id,
               features.GENRES_KEY: genres})[PREDICTION_KEY]
        return {PREDICTION_KEY: _clip_to_rating_scale(scores),
                SCORE_KEY: scores}

    def signatures(self) -> Dict[str, tf.types.experimental.ConcreteFunction]:
        return {SERVING_SIGNATURE: self.serve_examples,
                RAW_SIGNATURE: self.serve_raw}


def _clip_to_rating_scale(scores: tf.Tensor) -> tf.Tensor:
    return tf.clip_by_value(scores, features.RATING_MIN, features.RATING_MAX)
