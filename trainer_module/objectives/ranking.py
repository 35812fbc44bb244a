"""The ranking objective: a classifier of rated (user, movie) pairs against
sampled unrated ones, whose logit ranks each user's unseen movies; judged by
AUC on sampled eval pairs (TFMA) and by top-k ranking (TopKEvaluator).

TensorFlow, the estimator and TFMA are imported where they are used, as in
rating.py.
"""
import dataclasses

import movielens_features as features
from trainer_module.hparams import ADAM, MEAN, HParams
from trainer_module.objectives import base

# Random is 0.5.
MIN_AUC = 0.6
AUC_TOLERANCE = 0.01
# The NegativeSampler draws this many per eval rating for TFMA: AUC does not
# depend on the share of positives, and TFMA's time grows with the rows (4
# negatives took 2.5 times as long).
EVAL_NEGATIVES_PER_POSITIVE = 1
# Below 1, TFMA reads a seeded sample of about this share of the users, for
# data past MovieLens-1m size, where TFMA's time (about 630 s per million
# rows here) dominates the run.
AUC_USER_FRACTION = 1.0


# The implicit-feedback model: the wide user x item cross plus the item
# one-hot; an Adam DNN (rate 0.01, hidden units (256, 128)) over the user's
# history (the movies they rated in train, trainer_module/history.py)
# embedded in 64 dimensions in place of a user-id embedding, and the
# candidate's EASE score against that history; 3 epochs of 4 negatives per
# positive, drawn afresh every epoch (trainer_module/negatives.py); served
# as logit + 8 x the EASE score.
# Chosen on a validation split carved from the per-user stratified train
# split, never the eval split: the rounds of the search, the levers it
# tried and left out, and their figures are in docs/benchmarks.md ("Ranking
# recipe, searched on a validation carve of train") and
# benchmarks/results/ranking_search_stratified.json.
RECIPE = dict(
    epochs=3, batch_size=1024, negatives_per_positive=4,
    linear_learning_rate=0.05, linear_l1=0.0,
    crossed_hash_buckets=100_000, wide_item_column=True,
    dnn_optimizer=ADAM, dnn_learning_rate=0.01,
    hidden_units=(256, 128), user_embedding_dim=0,
    history_embedding_dim=64, item_ease_feature=True,
    item_embedding_dim=32, dropout=0.0, batch_norm=False,
    embedding_max_norm=False, loss_reduction=MEAN,
    ease_blend_weight=8.0)


@dataclasses.dataclass(frozen=True)
class Gate:
    """TFMA blesses the model when its AUC of telling an eval rating from a
    sampled movie is at least min_auc and, once a model is served, at most
    auc_tolerance below the baseline's; measured on the eval ratings of
    about auc_user_fraction of the users."""
    min_auc: float = MIN_AUC
    auc_tolerance: float = AUC_TOLERANCE
    auc_user_fraction: float = AUC_USER_FRACTION


class RankingObjective(base.Objective):
    name = features.RANKING_OBJECTIVE
    # The sigmoid saturates to 1.0 in float32 at the top: the logit ranks.
    score_output = "logits"
    tfma_label_key = features.SAMPLED_LABEL_KEY
    Gate = Gate
    eval_negatives_per_positive = EVAL_NEGATIVES_PER_POSITIVE
    ease_reference = True
    report = base.ReportView(
        title="ranking (classifier of rated vs sampled unrated pairs)",
        tfma_order=("example_count", "auc", "binary_accuracy", "mean_label",
                    "mean_prediction"),
        slice_columns=(("auc", "auc"), ("binary_accuracy", "binary_accuracy"),
                       ("mean_label", "mean_label"),
                       ("mean_prediction", "mean_prediction")),
        headline="auc",
        prediction_column="probability")

    def default_hparams(self) -> HParams:
        return HParams(objective=self.name, **RECIPE)

    def estimator_class(self) -> type:
        # Two classes, the default.
        from tensorflow import estimator
        return estimator.DNNLinearCombinedClassifier

    def label(self, rating: "tf.Tensor") -> "tf.Tensor":
        # Sampled negatives have rating 0.0 and every real rating is >=
        # RATING_MIN, so the rating alone tells them apart (the sampler's
        # label column says the same and is not needed).
        import tensorflow as tf
        return tf.cast(rating > 0.0, tf.float32)

    def to_prediction(self, scores: "tf.Tensor") -> "tf.Tensor":
        # The probability of a positive, as the estimator's own "logistic".
        import tensorflow as tf
        return tf.sigmoid(scores)

    def eval_config(self, gate: Gate) -> "tfma.EvalConfig":  # noqa: F821
        # How well the classifier tells a rated movie from a sampled one.
        return base.sliced_eval_config(
            self.tfma_label_key,
            (("BinaryAccuracy", ""), ("MeanLabel", ""),
             ("MeanPrediction", "")),
            ("AUC", ""), gate.min_auc, gate.auc_tolerance,
            lower_is_better=False)
