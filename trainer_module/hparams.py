"""Hyper-parameters of the wide-and-deep model, defaulting to the seed notebook.

The pipeline passes them to the Trainer in `custom_config`, so a changed
hyper-parameter changes the Trainer's cache key and re-trains. The defaults
are the rating objective's; `HParams.ranking_defaults()` gives the ranking
objective's.
"""
import dataclasses
from typing import Any, Dict, Optional, Tuple

from trainer_module import features

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
SPARSE_COMBINERS: Tuple[str, ...] = ("sum", "mean", "sqrtn")


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
    # Also a user x genre cross in the wide part (the user's affinity to
    # each genre of the item; Transform's genre_ids_xf), hashed into
    # user_genre_hash_buckets.
    wide_user_genre_cross: bool = False
    user_genre_hash_buckets: int = 50_000
    # Also a history x item cross in the wide part: one weight per (rated
    # movie, candidate movie) pair, hashed into history_item_hash_buckets,
    # as SLIM's item-item weights (needs the history table).
    wide_history_item_cross: bool = False
    history_item_hash_buckets: int = 1_000_000
    # How the wide part combines a multivalent column's weights: "sum"
    # (the estimator's default), "mean" or "sqrtn". Single-valued columns
    # are alike under all three.
    linear_sparse_combiner: str = "sum"
    # Deep part: Adagrad (the seed) or Adam over user/item embeddings and the
    # genre vector.
    dnn_optimizer: str = ADAGRAD
    dnn_learning_rate: float = 0.1
    # The DNN learning rate falls exponentially over the training steps to
    # dnn_learning_rate * dnn_learning_rate_decay at the last step; 1.0
    # keeps it constant (the seed).
    dnn_learning_rate_decay: float = 1.0
    hidden_units: Tuple[int, ...] = (1024, 32, 1024)
    # 0: no user-id embedding (then the history must be on).
    user_embedding_dim: int = 64
    item_embedding_dim: int = 4
    # > 0: the deep part also embeds the user's history (the movies they
    # rated in the train split, trainer_module/history.py) in this many
    # dimensions, averaged (sqrtn); 0: off, as the seed.
    history_embedding_dim: int = 0
    # Also the item-kNN score of the candidate against that history
    # (history.item_knn_score: cosine over train co-occurrence), a numeric
    # input of the wide and the deep part.
    item_knn_feature: bool = False
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
        _check_choice(self, "linear_sparse_combiner", SPARSE_COMBINERS)
        _check_positive(self, ("epochs", "batch_size", "crossed_hash_buckets",
                               "user_genre_hash_buckets",
                               "history_item_hash_buckets",
                               "item_embedding_dim"))
        self._check_negatives()
        for name in ("user_embedding_dim", "history_embedding_dim"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got "
                                 f"{getattr(self, name)}")
        if not (self.user_embedding_dim or self.history_embedding_dim
                or self.item_knn_feature or self.item_ease_feature):
            raise ValueError(
                "user_embedding_dim is 0, history_embedding_dim is 0 and "
                "item_knn_feature and item_ease_feature are off: the model "
                "would know nothing of the user")
        for name in ("wide_user_item_cross", "wide_item_column",
                     "wide_user_genre_cross", "item_knn_feature",
                     "item_ease_feature", "wide_history_item_cross"):
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
        if not 0.0 < self.dnn_learning_rate_decay <= 1.0:
            raise ValueError(f"dnn_learning_rate_decay must be in (0, 1], "
                             f"got {self.dnn_learning_rate_decay}")
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
            raise ValueError(f"the ranking objective needs "
                             f"negatives_per_positive >= 1, got {count}")
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

    @classmethod
    def ranking_defaults(cls) -> "HParams":
        """The implicit-feedback recipe (issue 7's research, ndcg@10 0.41 on
        MovieLens-100k): a wide cross plus item one-hot, a small Adam DNN.

        3 epochs of 4 negatives per positive, drawn afresh every epoch as
        the Trainer reads the positives (trainer_module/negatives.py). The
        research's 6 rounds of the NegativeSampler (which wrote them out
        before issue 23; the search's runs record epochs 1 over 6 rounds)
        became 6 epochs; issue 23 halved them: 3 epochs validate level with
        6 (seeds 1-5: 0.2333 / 0.1864 against 0.2320 / 0.1854, per seed
        within the spread either way) at half the Trainer's steps.

        Issue 15's search, on a validation split carved from the per-user
        stratified train split, never the eval split
        (benchmarks/ranking_validation.py --data-csv ...,
        benchmarks/results/ranking_search_stratified.json), chose variant
        "ease_hist_64_nouser_hidden_256_128": Adam's learning rate 0.01
        (was 0.003); the user's history (the movies they rated in train,
        trainer_module/history.py) embedded in 64 dimensions in place of the
        user-id embedding; hidden units (256, 128) (was (128, 64)); and the
        candidate's EASE score against that history (item_ease_feature),
        with 4 negatives per positive (pipeline/configs.py). Median
        validation ndcg@10 / precision@10 over seeds 1-5: 0.232 / 0.185,
        better in precision on each seed than the same model without the
        EASE score and 8 negatives (0.229 / 0.182, the defaults before), and
        against 0.211 / 0.174 for the recipe before the search ("ref", 3
        seeds). No other lever (user x genre cross, no user x item cross,
        history x item cross, item-kNN score, rounds, embedding sizes,
        batch size, FTRL rate and L2, dropout, max-norm, batch norm, a
        decaying rate) did clearly better; those options stay off. Issue
        23's fifth round measured EASE alone on the same seeds (0.237 /
        0.189, above these defaults) and one lever at a time against it
        (EASE's L2, negatives, epochs, history size, Adam's rate, no user x
        item cross): none beat EASE alone, none cleared the spread.
        The sixth round ranked the same trained models by logit + w * their
        EASE input (ease_blend_weight; training unchanged): w = 8 validates
        at 0.2395 / 0.1892 against EASE alone's 0.2370 / 0.1885 on the same
        seeds (ndcg@10 above it on 4 of 5), the first recipe above its own
        EASE feature.
        """
        return cls(
            objective=features.RANKING_OBJECTIVE, epochs=3, batch_size=1024,
            negatives_per_positive=4,
            linear_learning_rate=0.05, linear_l1=0.0,
            crossed_hash_buckets=100_000, wide_item_column=True,
            dnn_optimizer=ADAM, dnn_learning_rate=0.01,
            hidden_units=(256, 128), user_embedding_dim=0,
            history_embedding_dim=64, item_ease_feature=True,
            item_embedding_dim=32, dropout=0.0, batch_norm=False,
            embedding_max_norm=False, loss_reduction=MEAN,
            ease_blend_weight=8.0)

    @classmethod
    def defaults_for(cls, objective: str) -> "HParams":
        """The defaults of `objective`: the seed's, or ranking_defaults()."""
        if objective == features.RANKING_OBJECTIVE:
            return cls.ranking_defaults()
        return cls(objective=objective)  # validates the name

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "HParams":
        """Inverse of to_dict; an unknown key is an error, not ignored.

        Keys left out take the defaults of the objective given (the rating
        objective when none is), so {"objective": "ranking"} alone is the
        ranking recipe, not the seed's model with a classifier head.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown hyper-parameters: {sorted(unknown)}")
        values = dict(values)
        if "hidden_units" in values:
            values["hidden_units"] = tuple(values["hidden_units"])
        defaults = cls.defaults_for(
            values.get("objective", features.RATING_OBJECTIVE))
        return dataclasses.replace(defaults, **values)

    @property
    def uses_history(self) -> bool:
        """Whether the model reads the user-history table (history.py)."""
        return bool(self.history_embedding_dim or self.item_knn_feature
                    or self.item_ease_feature or self.wide_history_item_cross)

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


# Named recipes of the rating objective (local_runner.py --recipe): values
# that replace the seed's defaults. "fast" was chosen by
# benchmarks/recipe_search.py on a validation split carved from the train
# split (results/recipe_search_ml100k.json): the same estimator and
# optimizers with 128-unit instead of 1024-unit outer layers (those are most
# of a step's work) and 20 epochs. Fewer epochs of the seed's model lost
# RMSE; this validated better than the seed in a fifth of its training
# time.
SEED_RECIPE = "seed"
FAST_RECIPE = "fast"
RECIPES: Dict[str, Dict[str, Any]] = {
    SEED_RECIPE: {},
    FAST_RECIPE: {"hidden_units": (128, 32, 128), "epochs": 20},
}


def recipe(name: str, overrides: Optional[Dict[str, Any]] = None) -> HParams:
    """The hyper-parameters of recipe `name`, with `overrides` (e.g. flags)
    on top. Recipes other than the seed's are for the rating objective; the
    ranking objective has its own defaults (HParams.ranking_defaults)."""
    if name not in RECIPES:
        raise ValueError(f"recipe must be one of {sorted(RECIPES)}, got "
                         f"{name!r}")
    values = {**RECIPES[name], **(overrides or {})}
    objective = values.get("objective", features.RATING_OBJECTIVE)
    if name != SEED_RECIPE and objective != features.RATING_OBJECTIVE:
        raise ValueError(f"recipe {name!r} is for the "
                         f"{features.RATING_OBJECTIVE} objective, not "
                         f"{objective!r}")
    return HParams.from_dict(values)


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
