"""Top-k recommendations of unseen movies, shard by shard: the recommend
command's ranking, built on the recommender core (pool shards and candidate
pairs, ModelScorer, metrics.top_k_per_user).

Unlike the TopKEvaluator's pool, which excludes only the train split (eval
ratings are its held-out truth), "unseen" here means not rated in ANY split.
"""
from typing import TYPE_CHECKING, Iterator, List, Optional, Sequence

import numpy as np
import pandas as pd

from trainer_module import features

# TensorFlow loads only where a model is scored (recommender.scoring).
if TYPE_CHECKING:
    from recommender.catalog import Catalog
    from recommender.pool import UserShard
    from recommender.scoring import ModelScorer

RANK_KEY = "rank"
SCORE_KEY = "score"
PREDICTED_KEY = "predicted_rating"
# The ranking objective's model predicts the probability that the user
# rates the item (its score is the logit), not a rating.
PROBABILITY_KEY = "probability"
POPULARITY_KEY = "train_ratings"
CSV_COLUMNS = (features.USER_KEY, RANK_KEY, features.ITEM_KEY, SCORE_KEY,
               PREDICTED_KEY)


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
    return (PROBABILITY_KEY if objective == features.RANKING_OBJECTIVE
            else PREDICTED_KEY)


def csv_columns(value_key: str = PREDICTED_KEY) -> List[str]:
    """CSV_COLUMNS with the predictions column named value_key."""
    return [value_key if name == PREDICTED_KEY else name
            for name in CSV_COLUMNS]


def iter_recommendations(scorer: "ModelScorer", catalog: "Catalog",
                         rated: pd.DataFrame, k: int,
                         user_ids: Optional[Sequence[int]] = None,
                         max_pairs_per_shard: Optional[int] = None,
                         value_key: str = PREDICTED_KEY
                         ) -> Iterator[pd.DataFrame]:
    """Top-k unseen items of each known user, one frame per user shard.

    user_ids None means every user of `rated`; unknown ids are skipped.
    Memory is bounded by the shard size, as in the TopKEvaluator. The
    predictions column is named value_key (prediction_key(objective)).
    """
    from recommender import pool
    if user_ids is not None:
        rated = rated[rated[features.USER_KEY].isin(list(user_ids))]
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


def recommend_for_users(scorer: "ModelScorer", catalog: "Catalog",
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
