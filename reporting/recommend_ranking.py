"""Top-k recommendations of unseen movies: the recommend command's ranking.

A model with the served top-k (trainer_module/topk_serving.py) ranks inside
its `serving_topk` signature (ServedTopK), a batch of users per call. A
model exported before it is ranked as the TopKEvaluator ranks, shard by
shard, on the recommender core (pool shards and candidate pairs,
ModelScorer, metrics.top_k_per_user). Both rank by the model's score, ties
to the smaller item id.

Unlike the TopKEvaluator's pool, which excludes only the train split (eval
ratings are its held-out truth), "unseen" here means not rated in ANY split:
the served top-k excludes the train movies, so ServedTopK asks it for k
plus the user's rated movies and drops the rated ones.
"""
from typing import (TYPE_CHECKING, Iterator, List, Optional, Sequence,
                    Tuple, Union)

import numpy as np
import pandas as pd

import movielens_features as features

# TensorFlow loads only where a model is scored (recommender.scoring).

from trainer_module import objectives

# TensorFlow loads only where a model is scored (recommender.scoring).
if TYPE_CHECKING:
    from recommender.catalog import Catalog
    from recommender.pool import UserShard
    from recommender.scoring import ModelScorer

RANK_KEY = "rank"
SCORE_KEY = "score"
# The predictions column, per objective (its report view): a rating, or the
# probability that the user rates the item (its score is the logit).
PREDICTED_KEY = objectives.RATING.report.prediction_column
PROBABILITY_KEY = objectives.RANKING.report.prediction_column
POPULARITY_KEY = "train_ratings"
CSV_COLUMNS = (features.USER_KEY, RANK_KEY, features.ITEM_KEY, SCORE_KEY,
               PREDICTED_KEY)
# Users per serving_topk call: each is scored against the whole catalog, so
# a call scores about this many pairs (ModelScorer's batch).
PAIRS_PER_CALL = 32768


class ServedTopK:
    """A loaded model's serving_topk signature (trainer_module/
    topk_serving.py): the model and its tables are loaded once, so every
    call is warm."""

    def __init__(self, loaded):
        from trainer_module import model, topk_serving
        self._signature = loaded.signatures[model.TOPK_SIGNATURE]
        self._keys = (topk_serving.ITEM_IDS_KEY, model.SCORE_KEY,
                      model.PREDICTION_KEY)
        # The first call instantiates the function (0.4 s on MovieLens-
        # 100k): made here, with no user, so every answer is a warm call.
        self(np.zeros(0, np.int64), 1)

    def __call__(self, user_ids: Sequence[int], k: int
                 ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(item ids, scores, predictions), each [len(user_ids), k]; item
        id PADDING_ITEM_ID past a user's unseen movies."""
        import tensorflow as tf
        from trainer_module.topk_serving import K_INPUT
        out = self._signature(
            **{features.USER_KEY: tf.constant(user_ids, tf.int64),
               K_INPUT: tf.constant(k, tf.int32)})
        return tuple(out[key].numpy() for key in self._keys)


Ranker = Union[ServedTopK, "ModelScorer"]


def rated_pairs(splits: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Distinct (user, item) pairs rated in any split: what a user has seen."""
    keys = [features.USER_KEY, features.ITEM_KEY]
    return pd.concat([split[keys] for split in splits],
                     ignore_index=True).drop_duplicates(ignore_index=True)


def known_users(rated: pd.DataFrame) -> np.ndarray:
    """Sorted ids of the users with at least one rating in the data."""
    return np.unique(rated[features.USER_KEY].to_numpy(np.int64))


def prediction_key(objective: str) -> str:
    """The column of the model's predictions for a training objective."""
    return objectives.get(objective).report.prediction_column


def csv_columns(value_key: str = PREDICTED_KEY) -> List[str]:
    """CSV_COLUMNS with the predictions column named value_key."""
    return [value_key if name == PREDICTED_KEY else name
            for name in CSV_COLUMNS]


def iter_recommendations(scorer: Ranker, catalog: "Catalog",
                         rated: pd.DataFrame, k: int,
                         user_ids: Optional[Sequence[int]] = None,
                         max_pairs_per_shard: Optional[int] = None,
                         value_key: str = PREDICTED_KEY
                         ) -> Iterator[pd.DataFrame]:
    """Top-k unseen items of each known user, one frame per user shard
    (per serving_topk call with a ServedTopK), users in id order.

    user_ids None means every user of `rated`; unknown ids are skipped.
    Memory is bounded by the shard size, as in the TopKEvaluator. The
    predictions column is named value_key (prediction_key(objective)).
    """
    from recommender import pool
    if user_ids is not None:
        rated = rated[rated[features.USER_KEY].isin(list(user_ids))]
    if isinstance(scorer, ServedTopK):
        users = known_users(rated)
        per_call = max(1, (max_pairs_per_shard or PAIRS_PER_CALL)
                       // max(1, len(catalog.item_ids)))
        for start in range(0, len(users), per_call):
            yield served_top_k(scorer, rated, users[start:start + per_call],
                               k, value_key)
        return
    # make_shards excludes its first frame's pairs; the second is the
    # evaluator's truth, which recommending does not use.
    shards = pool.make_shards(
        rated, rated.iloc[:0], catalog,
        max_pairs_per_shard or pool.DEFAULT_MAX_PAIRS_PER_SHARD)
    for shard in shards:
        yield rank_shard(scorer, catalog, shard, k, value_key)


def rank_shard(scorer: "ModelScorer", catalog: "Catalog",
               shard: "UserShard", k: int,
               value_key: str = PREDICTED_KEY) -> pd.DataFrame:
    """user_id, rank, item_id, score, <value_key> of one shard."""
    from recommender import metrics, pool
    users, cols = pool.candidate_pairs(shard, len(catalog.item_ids))
    items = catalog.item_ids[cols]
    predictions, scores = scorer.predict(users, items, catalog.genres[cols])
    top = metrics.top_k_per_user(users, items, scores, k)
    # candidate_pairs is row-major (user row, catalog column), so its pair
    # keys are sorted and each top row is found by binary search.
    n_items = len(catalog.item_ids)
    pair_keys = np.searchsorted(shard.user_ids, users) * n_items + cols
    top_keys = (np.searchsorted(shard.user_ids, top.user_ids) * n_items
                + np.searchsorted(catalog.item_ids, top.item_ids))
    found = np.searchsorted(pair_keys, top_keys)
    return pd.DataFrame({
        features.USER_KEY: top.user_ids.astype(np.int64),
        RANK_KEY: top.ranks.astype(np.int64),
        features.ITEM_KEY: top.item_ids.astype(np.int64),
        SCORE_KEY: scores[found],
        value_key: predictions[found],
    }, columns=csv_columns(value_key))


def served_top_k(served: ServedTopK, rated: pd.DataFrame,
                 user_ids: np.ndarray, k: int,
                 value_key: str = PREDICTED_KEY) -> pd.DataFrame:
    """csv_columns(value_key) of the users (sorted ids) from one
    serving_topk call: k plus the most movies one of them rated, so that
    after dropping the rated ones (the model drops only its train movies)
    and the padding, k remain where the catalog has them."""
    from trainer_module.topk_serving import PADDING_ITEM_ID
    mine = rated[rated[features.USER_KEY].isin(user_ids)]
    most_rated = int(mine[features.USER_KEY].value_counts().max()
                     ) if len(mine) else 0
    items, scores, predictions = served(user_ids, k + most_rated)
    width = items.shape[1]
    found = pd.DataFrame({
        features.USER_KEY: np.repeat(np.asarray(user_ids, np.int64), width),
        features.ITEM_KEY: items.reshape(-1).astype(np.int64),
        SCORE_KEY: scores.reshape(-1), value_key: predictions.reshape(-1)})
    seen = found.merge(mine[[features.USER_KEY, features.ITEM_KEY]],
                       how="left", indicator=True)["_merge"] == "both"
    found = found[~seen.to_numpy() & (found[features.ITEM_KEY]
                                      != PADDING_ITEM_ID).to_numpy()].copy()
    found.insert(1, RANK_KEY, found.groupby(features.USER_KEY).cumcount() + 1)
    return found[found[RANK_KEY] <= k].reset_index(drop=True)[
        csv_columns(value_key)]


def recommend_for_users(scorer: Ranker, catalog: "Catalog",
                        rated: pd.DataFrame, user_ids: Sequence[int],
                        k: int, value_key: str = PREDICTED_KEY
                        ) -> pd.DataFrame:
    """Top-k unseen items of the known users among user_ids
    (csv_columns(value_key))."""
    frames = list(iter_recommendations(scorer, catalog, rated, k, user_ids,
                                       value_key=value_key))
    if not frames:
        return pd.DataFrame(columns=csv_columns(value_key))
    return pd.concat(frames, ignore_index=True)


def popular_items(catalog: "Catalog", k: int) -> pd.DataFrame:
    """rank, item_id, train_ratings of the k items most rated in train."""
    from recommender import metrics
    counts = catalog.train_counts.astype(np.float64)
    top = metrics.top_k_per_user(np.zeros(len(counts), np.int64),
                                 catalog.item_ids, counts, k)
    by_item = pd.Series(catalog.train_counts, index=catalog.item_ids)
    return pd.DataFrame({
        RANK_KEY: top.ranks.astype(np.int64),
        features.ITEM_KEY: top.item_ids.astype(np.int64),
        POPULARITY_KEY: by_item.loc[top.item_ids].to_numpy(np.int64),
    })
