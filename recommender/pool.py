"""The ranking pool, built one shard of users at a time.

The pool is every (user, item) over all users and items of the data, minus
the pairs seen in the train split. It is never materialised whole: a shard
holds only its users' train and eval rows, and `candidate_pairs` expands one
shard into at most `max_pairs_per_shard` pairs.
"""
from typing import Iterator, NamedTuple, Tuple

import numpy as np
import pandas as pd

from recommender.catalog import Catalog
import movielens_features as features

DEFAULT_MAX_PAIRS_PER_SHARD = 400_000


class UserShard(NamedTuple):
    """One slice of users with what ranking needs to know about them."""
    user_ids: np.ndarray  # int64, sorted
    seen_rows: np.ndarray  # train pairs: row in user_ids ...
    seen_cols: np.ndarray  # ... and column in the catalog
    truth_user_ids: np.ndarray  # eval rows of these users (all relevant)
    truth_item_ids: np.ndarray


def all_users(train: pd.DataFrame, eval_: pd.DataFrame) -> np.ndarray:
    return np.union1d(train[features.USER_KEY].to_numpy(np.int64),
                      eval_[features.USER_KEY].to_numpy(np.int64))


def sample_users(train: pd.DataFrame, eval_: pd.DataFrame, count: int,
                 seed: int) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """(train, eval_) of `count` users drawn without replacement, seeded,
    from all_users (every row of theirs, no other); unchanged when count is
    0 or at least the number of users."""
    users = all_users(train, eval_)
    if count < 0:
        raise ValueError(f"the user sample must be >= 0 users, got {count}")
    if count == 0 or count >= users.size:
        return train, eval_
    chosen = np.sort(np.random.default_rng(seed).choice(
        users, size=count, replace=False))
    return tuple(frame[frame[features.USER_KEY].isin(chosen)]
                 for frame in (train, eval_))


def pool_size(train: pd.DataFrame, eval_: pd.DataFrame,
              catalog: Catalog) -> int:
    """Users x items minus the distinct pairs seen in train."""
    seen = train.drop_duplicates([features.USER_KEY, features.ITEM_KEY])
    return len(all_users(train, eval_)) * len(catalog.item_ids) - len(seen)


def make_shards(train: pd.DataFrame, eval_: pd.DataFrame, catalog: Catalog,
                max_pairs_per_shard: int = DEFAULT_MAX_PAIRS_PER_SHARD
                ) -> Iterator[UserShard]:
    """Partitions users into shards of about max_pairs_per_shard pairs."""
    users = all_users(train, eval_)
    per_shard = max(1, max_pairs_per_shard // max(1, len(catalog.item_ids)))
    train_shard, train_pos = _shard_of(train, users, per_shard)
    eval_shard, _ = _shard_of(eval_, users, per_shard)
    train_cols = np.searchsorted(catalog.item_ids,
                                 train[features.ITEM_KEY].to_numpy(np.int64))
    train_order, eval_order = np.argsort(train_shard), np.argsort(eval_shard)
    train_bounds = np.searchsorted(train_shard[train_order],
                                   np.arange(len(users) // per_shard + 2))
    eval_bounds = np.searchsorted(eval_shard[eval_order],
                                  np.arange(len(users) // per_shard + 2))
    eval_users = eval_[features.USER_KEY].to_numpy(np.int64)
    eval_items = eval_[features.ITEM_KEY].to_numpy(np.int64)
    for shard in range(-(-len(users) // per_shard)):
        first = shard * per_shard
        rows = train_order[train_bounds[shard]:train_bounds[shard + 1]]
        truth = eval_order[eval_bounds[shard]:eval_bounds[shard + 1]]
        yield UserShard(
            user_ids=users[first:first + per_shard],
            seen_rows=train_pos[rows] - first,
            seen_cols=train_cols[rows],
            truth_user_ids=eval_users[truth],
            truth_item_ids=eval_items[truth])


def candidate_pairs(shard: UserShard, num_items: int
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """(user ids, catalog columns) of the shard's unseen pairs."""
    unseen = np.ones((len(shard.user_ids), num_items), dtype=bool)
    unseen[shard.seen_rows, shard.seen_cols] = False
    rows, cols = np.nonzero(unseen)
    return shard.user_ids[rows], cols


def _shard_of(frame: pd.DataFrame, users: np.ndarray, per_shard: int):
    positions = np.searchsorted(users, frame[features.USER_KEY].to_numpy(
        np.int64))
    return positions // per_shard, positions
