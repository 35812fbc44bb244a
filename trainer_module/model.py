"""The wide-and-deep estimator over the Transform outputs.

Objective rating: the seed notebook's DNNLinearCombinedRegressor on the
rating. Objective ranking: a DNNLinearCombinedClassifier on implicit feedback
(rated pairs against sampled negatives); its logit ranks the pool.
"""
from typing import Dict, List, Optional, Tuple

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow import estimator as tf_estimator

import movielens_features as features
from trainer_module import (hparams as hparams_lib, history,
                            objectives, raw_examples, topk_serving)
from trainer_module.hparams import HParams

# Signatures of the exported model. SERVING_SIGNATURE takes serialized raw
# tf.Examples (TF Serving, TFMA) and returns PREDICTION_KEY: the rating
# clipped to the rating scale, or for ranking the probability of a positive.
# RAW_SIGNATURE takes the raw columns as plain tensors, so batch scorers skip
# building tf.Example protos, and also returns SCORE_KEY, which ranks without
# ties: the unclipped rating, or the classifier's logit (the sigmoid
# saturates to 1.0 in float32 at the top).
# (The names live in features.py: the pipeline's Pusher checks them too.)
# TOPK_SIGNATURE takes user ids and k and returns each user's k best movies
# unseen in train, with their SCORE_KEY and PREDICTION_KEY (topk_serving.py).
SERVING_SIGNATURE = features.SERVING_SIGNATURE
RAW_SIGNATURE = features.RAW_SIGNATURE
TOPK_SIGNATURE = topk_serving.TOPK_SIGNATURE
PREDICTION_KEY = "predictions"
SCORE_KEY = "scores"
# Names the estimator's own export gives its signatures.
_ESTIMATOR_PREDICT_SIGNATURE = "predict"
_ESTIMATOR_RAW_SIGNATURE = "raw:predict"
_DNN_OPTIMIZERS = {hparams_lib.ADAGRAD: tf.keras.optimizers.legacy.Adagrad,
                   hparams_lib.ADAM: tf.keras.optimizers.legacy.Adam}
_LOSS_REDUCTIONS = {
    hparams_lib.SUM: tf.keras.losses.Reduction.SUM,
    hparams_lib.MEAN: tf.keras.losses.Reduction.SUM_OVER_BATCH_SIZE}


def vocabulary_sizes(tf_transform_output: tft.TFTransformOutput) -> Tuple[int, int]:
    """(users, items) in the Transform vocabularies, OOV buckets included."""
    return tuple(
        tf_transform_output.vocabulary_size_by_name(name)
        + features.NUM_OOV_BUCKETS
        for name in (features.USER_VOCAB_NAME, features.ITEM_VOCAB_NAME))


def feature_columns(hparams: HParams, num_users: int, num_items: int
                    ) -> Tuple[List, List]:
    """(wide columns, deep columns) as in the seed's tf_utils.build_model
    (its user x item cross unless not hparams.wide_user_item_cross), plus
    in the wide part the item one-hot (hparams.wide_item_column); in the
    deep part the history embedding (history_embedding_dim > 0); in both
    the EASE score (item_ease_feature)."""
    user = tf.feature_column.categorical_column_with_identity(
        features.transformed_name(features.USER_KEY), num_buckets=num_users)
    item = tf.feature_column.categorical_column_with_identity(
        features.transformed_name(features.ITEM_KEY), num_buckets=num_items)
    wide = []
    if hparams.wide_user_item_cross:
        wide.append(tf.feature_column.crossed_column(
            [user, item], hash_bucket_size=hparams.crossed_hash_buckets))
    if hparams.wide_item_column:
        wide.append(item)
    deep = []
    if hparams.user_embedding_dim:
        deep.append(tf.feature_column.embedding_column(
            user, dimension=hparams.user_embedding_dim,
            max_norm=_max_norm(hparams, hparams.user_embedding_dim)))
    deep += [
        tf.feature_column.embedding_column(
            item, dimension=hparams.item_embedding_dim,
            max_norm=_max_norm(hparams, hparams.item_embedding_dim)),
        tf.feature_column.numeric_column(
            features.transformed_name(features.GENRES_KEY),
            shape=(len(features.GENRES),)),
    ]
    if hparams.history_embedding_dim:
        # The user's other rated movies, embedded and averaged (sqrtn).
        deep.append(tf.feature_column.embedding_column(
            tf.feature_column.categorical_column_with_identity(
                features.USER_HISTORY_XF, num_buckets=num_items),
            dimension=hparams.history_embedding_dim, combiner="sqrtn",
            max_norm=_max_norm(hparams, hparams.history_embedding_dim)))
    if hparams.item_ease_feature:
        score = tf.feature_column.numeric_column(features.ITEM_EASE_XF)
        wide.append(score)
        deep.append(score)
    return wide, deep


def _max_norm(hparams: HParams, dimension: int) -> Optional[float]:
    return dimension ** 0.5 if hparams.embedding_max_norm else None


def build_estimator(hparams: HParams, num_users: int, num_items: int,
                    config: tf_estimator.RunConfig,
                    user_history: Optional[history.UserHistory] = None
                    ) -> tf_estimator.Estimator:
    """FTRL on the wide part, hparams.dnn_optimizer on the DNN; the
    regressor for the rating objective, the binary classifier for ranking.

    user_history: the train split's history table, for a model with
    history features (hparams.uses_history): the model derives them from
    the transformed ids itself (with_history_tables), in training, in
    evaluation and in the exported graph alike.
    """
    canned = _canned_estimator(hparams, num_users, num_items, config)
    if hparams.ease_blend_weight:
        canned = with_ease_blend(canned, hparams.ease_blend_weight)
    if user_history is None:
        return canned
    return with_history_tables(canned, user_history)


def with_history_tables(canned: tf_estimator.Estimator,
                        user_history: history.UserHistory
                        ) -> tf_estimator.Estimator:
    """`canned` with history.add_history in front of its model_fn, over the
    tables as variables (history.table_variables): they are saved in the
    checkpoints and the export, never in a graph, and filled from
    `user_history` when training starts."""
    def model_fn(features, labels, mode, config):
        tables = history.table_variables(user_history)
        spec = canned.model_fn(history.add_history(features, tables),
                               labels, mode, config)
        if mode == tf_estimator.ModeKeys.TRAIN:
            spec = spec._replace(training_hooks=(
                *spec.training_hooks,
                history.TableLoader(tables, user_history)))
        return spec
    return tf_estimator.Estimator(model_fn=model_fn, config=canned.config)


def with_ease_blend(classifier: tf_estimator.Estimator, weight: float
                    ) -> tf_estimator.Estimator:
    """The ranking classifier whose predictions (and so its exported
    signatures) rank by logit + weight * the candidate's EASE score;
    training and evaluation are the classifier's own. Its features must
    hold features.ITEM_EASE_XF (history.add_history puts it there)."""
    def model_fn(features, labels, mode, config):
        spec = classifier.model_fn(features, labels, mode, config)
        if mode != tf_estimator.ModeKeys.PREDICT:
            return spec
        return blend_ease(spec, features, weight)
    return tf_estimator.Estimator(model_fn=model_fn, config=classifier.config)


def blend_ease(spec: tf_estimator.EstimatorSpec,
               model_features: Dict[str, tf.Tensor],
               weight: float) -> tf_estimator.EstimatorSpec:
    """The classifier's PREDICT spec with its logit replaced by logit +
    weight * EASE score, and every prediction and export output
    (probabilities, classes, signatures) derived from that logit by the
    binary head, as the canned estimator derives them from its own."""
    logits = (spec.predictions["logits"]
              + weight * model_features[features.ITEM_EASE_XF])
    return tf_estimator.BinaryClassHead().create_estimator_spec(
        features=model_features, mode=tf_estimator.ModeKeys.PREDICT,
        logits=logits)


def _canned_estimator(hparams: HParams, num_users: int, num_items: int,
                      config: tf_estimator.RunConfig
                      ) -> tf_estimator.Estimator:
    wide, deep = feature_columns(hparams, num_users, num_items)
    return objectives.get(hparams.objective).estimator_class()(
        config=config,
        linear_feature_columns=wide,
        linear_optimizer=tf.keras.optimizers.legacy.Ftrl(
            learning_rate=hparams.linear_learning_rate,
            l1_regularization_strength=hparams.linear_l1,
            l2_regularization_strength=hparams.linear_l2),
        dnn_feature_columns=deep,
        dnn_optimizer=_DNN_OPTIMIZERS[hparams.dnn_optimizer](
            learning_rate=hparams.dnn_learning_rate),
        dnn_hidden_units=list(hparams.hidden_units),
        dnn_dropout=hparams.dropout,
        batch_norm=hparams.batch_norm,
        loss_reduction=_LOSS_REDUCTIONS[hparams.loss_reduction])


def serving_receiver_fn(tf_transform_output: tft.TFTransformOutput):
    """Returns the export-time input function: raw examples in, features out.

    The serving graph parses serialized tf.Examples that carry no label,
    applies the Transform graph and feeds the model (which derives any
    history feature itself: with_history_tables). A second signature
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
    return raw_examples.parse(serialized, features.SERVING_FEATURE_KEYS)


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
    Both objectives export the same signatures and output names; only what
    the outputs mean differs (see SERVING_SIGNATURE). With `topk_tables`
    (topk_serving.build_tables), also TOPK_SIGNATURE, which scores through
    RAW_SIGNATURE's function and holds the tables as variables.
    """

    def __init__(self, estimator_export: tf.Module,
                 objective: str = features.RATING_OBJECTIVE,
                 topk_tables: Optional[topk_serving.TopKTables] = None):
        super().__init__()
        trained_for = objectives.get(objective)
        self._export = estimator_export
        # The estimator's predict output that is the score (the regressor's
        # rating, the classifier's logit), and score -> served prediction.
        self._score_output = trained_for.score_output
        self._to_prediction = trained_for.to_prediction
        self._topk_tables = None
        if topk_tables is not None:
            self._topk_tables = topk_serving.table_variables(topk_tables)
            # Only here: saving traces every tf.function the module holds.
            self.serve_topk = tf.function(self._serve_topk, input_signature=[
                tf.TensorSpec([None], tf.int64, name=features.USER_KEY),
                tf.TensorSpec([], tf.int32, name=topk_serving.K_INPUT)])

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, examples: tf.Tensor) -> Dict[str, tf.Tensor]:
        scores = self._export.signatures[_ESTIMATOR_PREDICT_SIGNATURE](
            examples=examples)[self._score_output]
        return {PREDICTION_KEY: self._to_prediction(scores)}

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.int64, name=features.USER_KEY),
        tf.TensorSpec([None], tf.int64, name=features.ITEM_KEY),
        tf.TensorSpec([None], tf.string, name=features.GENRES_KEY)])
    def serve_raw(self, user_id: tf.Tensor, item_id: tf.Tensor,
                  genres: tf.Tensor) -> Dict[str, tf.Tensor]:
        scores = self._raw_scores(user_id, item_id, genres)
        return {PREDICTION_KEY: self._to_prediction(scores),
                SCORE_KEY: scores}

    def _raw_scores(self, user_id: tf.Tensor, item_id: tf.Tensor,
                    genres: tf.Tensor) -> tf.Tensor:
        return self._export.signatures[_ESTIMATOR_RAW_SIGNATURE](
            **{features.USER_KEY: user_id, features.ITEM_KEY: item_id,
               features.GENRES_KEY: genres})[self._score_output]

    def _serve_topk(self, user_id: tf.Tensor, k: tf.Tensor
                    ) -> Dict[str, tf.Tensor]:
        top = topk_serving.top_k_unseen(self._raw_scores, self._topk_tables,
                                        user_id, k, self._to_prediction)
        return {topk_serving.ITEM_IDS_KEY: top.item_ids,
                SCORE_KEY: top.scores, PREDICTION_KEY: top.predictions}

    def signatures(self) -> Dict[str, tf.types.experimental.ConcreteFunction]:
        signatures = {SERVING_SIGNATURE: self.serve_examples,
                      RAW_SIGNATURE: self.serve_raw}
        if self._topk_tables is not None:
            signatures[TOPK_SIGNATURE] = self.serve_topk
        return signatures
