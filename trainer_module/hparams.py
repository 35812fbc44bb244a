"""Hyper-parameters of the wide-and-deep model, defaulting to the seed notebook.

The pipeline passes them to the Trainer in `custom_config`, so a changed
hyper-parameter changes the Trainer's cache key and re-trains. The defaults
are the rating objective's; each objective's own are its module's
(objectives.get(name).default_hparams(), objectives.hparams_from_dict).
"""
import dataclasses
from typing import Any, Dict, Tuple

import movielens_features as features

# Key of the hyper-parameters inside the Trainer's custom_config.
CUSTOM_CONFIG_KEY = "hparams"

# Optimizers of the deep part (model.py maps them to Keras legacy classes).
ADAGRAD = "adagrad"
ADAM = "adam"
DNN_OPTIMIZERS: Tuple[str, ...] = (ADAGRAD, ADAM)

# How the estimator reduces a batch's losses: SUM, the seed's (its TF1
# canned estimator's default), or MEAN (TF2's SUM_OVER_BATCH_SIZE). Summing
# scales the gradients by the batch size, which Adagrad and FTRL mostly
# normalise away, except early on: it trains faster at first.
SUM = "sum"
MEAN = "mean"
LOSS_REDUCTIONS: Tuple[str, ...] = (SUM, MEAN)


@dataclasses.dataclass(frozen=True)
class HParams:
    """The seed notebook's parameter cell (wide_deep_movielens.md)."""
    # features.RATING_OBJECTIVE: regressor on the rating (the seed);
    # features.RANKING_OBJECTIVE: classifier on sampled implicit feedback.
    objective: str = features.RATING_OBJECTIVE
    epochs: int = 50
    batch_size: int = 256
    # Ranking: unrated movies sampled per rated one as the Trainer reads
    # each batch (trainer_module/negatives.py), fresh every epoch; a batch
    # of batch_size rows holds batch_size // (1 + negatives_per_positive)
    # positives. 0 for the rating objective, which has no negatives.
    negatives_per_positive: int = 0
    # Wide part: FTRL over the crossed user x item column.
    linear_learning_rate: float = 0.0001
    linear_l1: float = 0.0
    # FTRL's L2 regularisation strength on the wide weights.
    linear_l2: float = 0.0
    # The seed's user x item cross in the wide part, hashed into
    # crossed_hash_buckets. It memorises pairs seen in training; the pairs a
    # ranking scores are unseen ones, whose weights only a sampled negative
    # (or a hash collision) ever moved.
    wide_user_item_cross: bool = True
    crossed_hash_buckets: int = 1000
    # Also an item-id one-hot in the wide part: a per-item bias (popularity),
    # part of the ranking recipe.
    wide_item_column: bool = False
    # Deep part: Adagrad (the seed) or Adam over user/item embeddings and the
    # genre vector.
    dnn_optimizer: str = ADAGRAD
    dnn_learning_rate: float = 0.1
    hidden_units: Tuple[int, ...] = (1024, 32, 1024)
    # 0: no user-id embedding (then the history must be on).
    user_embedding_dim: int = 64
    item_embedding_dim: int = 4
    # > 0: the deep part also embeds the user's history (the movies they
    # rated in the train split, trainer_module/history.py) in this many
    # dimensions, averaged (sqrtn); 0: off, as the seed.
    history_embedding_dim: int = 0
    # Also the EASE score of the candidate against that history
    # (history.item_ease_score: an item-item ridge regression over the
    # train split with L2 strength ease_l2), a numeric input of the wide
    # and the deep part.
    item_ease_feature: bool = False
    ease_l2: float = 300.0
    # Ranking with item_ease_feature: the served score (the logit the pool
    # is ranked by, and the probability TFMA judges) adds this times the
    # candidate's EASE score to the trained logit. Training is unchanged: a
    # pointwise loss against uniform negatives weighs the EASE score for
    # telling rated from random movies, not for the top of each list, so
    # the weight is chosen for the top (on validation). 0: off.
    ease_blend_weight: float = 0.0
    dropout: float = 0.3
    batch_norm: bool = True
    # The seed's embeddings are clipped to norm sqrt(dimension)
    # (its tf_utils.build_feature_columns).
    embedding_max_norm: bool = True
    loss_reduction: str = SUM
    # Fixed graph seed: two runs on the same data give the same model.
    random_seed: int = 123
    # When > 0, train exactly this many steps instead of
    # epochs * train rows / batch size.
    train_steps: int = 0

    def __post_init__(self):
        _check_choice(self, "objective", features.OBJECTIVES)
        _check_choice(self, "dnn_optimizer", DNN_OPTIMIZERS)
        _check_choice(self, "loss_reduction", LOSS_REDUCTIONS)
        _check_positive(self, ("epochs", "batch_size", "crossed_hash_buckets",
                               "item_embedding_dim"))
        self._check_negatives()
        for name in ("user_embedding_dim", "history_embedding_dim"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got "
                                 f"{getattr(self, name)}")
        if not (self.user_embedding_dim or self.history_embedding_dim
                or self.item_ease_feature):
            raise ValueError(
                "user_embedding_dim is 0, history_embedding_dim is 0 and "
                "item_ease_feature is off: the model would know nothing of "
                "the user")
        for name in ("wide_user_item_cross", "wide_item_column",
                     "item_ease_feature"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got "
                                 f"{getattr(self, name)!r}")
        if not self.hidden_units or min(self.hidden_units) <= 0:
            raise ValueError(
                f"hidden_units must be positive layer sizes, got "
                f"{self.hidden_units}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        _check_positive(self, ("linear_learning_rate", "dnn_learning_rate",
                               "ease_l2"))
        for name in ("linear_l1", "linear_l2"):
            # `not >= 0` also refuses NaN.
            if not getattr(self, name) >= 0:
                raise ValueError(
                    f"{name} must be >= 0, got {getattr(self, name)}")
        if self.train_steps < 0:
            raise ValueError(f"train_steps must be >= 0, got {self.train_steps}")
        self._check_ease_blend()

    def _check_ease_blend(self) -> None:
        weight = self.ease_blend_weight
        if not weight >= 0:  # also refuses NaN
            raise ValueError(f"ease_blend_weight must be >= 0, got {weight}")
        if weight and not (self.objective == features.RANKING_OBJECTIVE
                           and self.item_ease_feature):
            raise ValueError(
                f"ease_blend_weight {weight} adds the EASE score to a "
                f"ranking logit: it needs the {features.RANKING_OBJECTIVE} "
                f"objective with item_ease_feature on")

    def _check_negatives(self) -> None:
        count = self.negatives_per_positive
        if isinstance(count, bool) or not isinstance(count, int):
            raise ValueError(f"negatives_per_positive must be an integer, "
                             f"got {count!r}")
        if self.objective == features.RANKING_OBJECTIVE and count < 1:
            # HParams(objective="ranking") lands here: the seed's model
            # with a classifier head is not the ranking objective's.
            raise ValueError(f"the ranking objective needs "
                             f"negatives_per_positive >= 1, got {count} "
                             f"(its model: objectives.RANKING."
                             f"default_hparams())")
        if self.objective == features.RATING_OBJECTIVE and count != 0:
            raise ValueError(f"the rating objective samples no negatives: "
                             f"negatives_per_positive must be 0, got {count}")
        if self.batch_size < 1 + count:
            raise ValueError(
                f"batch_size {self.batch_size} holds no positive with its "
                f"{count} negatives: it must be at least {1 + count}")

    def to_dict(self) -> Dict[str, Any]:
        """JSON-friendly form (lists, not tuples) for custom_config."""
        values = dataclasses.asdict(self)
        values["hidden_units"] = list(self.hidden_units)
        return values

    def replaced(self, values: Dict[str, Any]) -> "HParams":
        """These hyper-parameters with `values` (as to_dict gives them) in
        place; an unknown key is an error, not ignored.
        (objectives.hparams_from_dict starts from the objective's defaults.)
        """
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown hyper-parameters: {sorted(unknown)}")
        values = dict(values)
        if "hidden_units" in values:
            values["hidden_units"] = tuple(values["hidden_units"])
        return dataclasses.replace(self, **values)

    @property
    def uses_history(self) -> bool:
        """Whether the model reads the user-history table (history.py)."""
        return bool(self.history_embedding_dim or self.item_ease_feature)

    @property
    def positives_per_batch(self) -> int:
        """Train rows read per step; each brings its sampled negatives."""
        return self.batch_size // (1 + self.negatives_per_positive)

    def steps_for(self, num_train_rows: int) -> int:
        """Training steps: the explicit count, else epochs over the train
        rows (the positives, for ranking) read positives_per_batch a step."""
        if self.train_steps:
            return self.train_steps
        return max(1, self.epochs * num_train_rows // self.positives_per_batch)


def _check_choice(hparams: HParams, name: str,
                  allowed: Tuple[str, ...]) -> None:
    if getattr(hparams, name) not in allowed:
        raise ValueError(
            f"{name} must be one of {list(allowed)}, got "
            f"{getattr(hparams, name)!r}")


def _check_positive(hparams: HParams, names: Tuple[str, ...]) -> None:
    for name in names:
        # `not > 0` also refuses NaN.
        if not getattr(hparams, name) > 0:
            raise ValueError(
                f"{name} must be positive, got {getattr(hparams, name)}")
