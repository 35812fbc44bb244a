"""The item catalog: every item of the data, its genres and popularity.

One rule gives an item its genres wherever the data holds several values for
it (the TopKEvaluator, the NegativeSampler, the report and the recommend
command all go through preferred_genres): the LONGEST genres string wins,
ties to the greater string in byte order. So any genre beats none, more
genres beat fewer, and the choice never depends on the order of the rows
(CsvExampleGen's write order varies from run to run).
"""
from typing import Iterable, NamedTuple, Optional, Tuple

import numpy as np
import pandas as pd

import movielens_features as features


class Catalog(NamedTuple):
    """Every item of the data with its genres and train popularity."""
    item_ids: np.ndarray  # sorted, unique int64
    genres: np.ndarray  # bytes (b"" for no genre), aligned with item_ids
    # Number of train ratings, aligned; None where nothing reads it (the
    # NegativeSampler's catalog, catalog_of_items).
    train_counts: Optional[np.ndarray] = None


def preferred_genres(values: Iterable[bytes]) -> bytes:
    """The genres string an item gets among the values the data gives it."""
    return max(values, key=_genres_rank)


def item_genres(items: Iterable[Tuple[int, bytes]]
                ) -> Tuple[np.ndarray, np.ndarray]:
    """(item_id, genres) pairs, repeats allowed -> (sorted unique item ids
    as int64, their preferred_genres as an aligned object array)."""
    best = {}
    for item_id, genres in items:
        item_id = int(item_id)
        if item_id not in best or _genres_rank(genres) > _genres_rank(
                best[item_id]):
            best[item_id] = genres
    item_ids = np.array(sorted(best), dtype=np.int64)
    chosen = np.empty(item_ids.size, dtype=object)
    chosen[:] = [best[item_id] for item_id in item_ids.tolist()]
    return item_ids, chosen


def catalog_of_items(items: Iterable[Tuple[int, bytes]]) -> Catalog:
    """(item_id, genres) pairs, repeats allowed -> one entry per item,
    sorted, with its preferred_genres (whatever the order of the pairs);
    no train counts."""
    return Catalog(*item_genres(items))


def build_catalog(train: pd.DataFrame, eval_: pd.DataFrame) -> Catalog:
    """Items of both splits, their preferred_genres and train counts."""
    keys = [features.ITEM_KEY, features.GENRES_KEY]
    # Distinct (item, genres) first: the rule then sees a few rows per item.
    distinct = pd.concat([train[keys], eval_[keys]],
                         ignore_index=True).drop_duplicates()
    item_ids, genres = item_genres(zip(
        distinct[features.ITEM_KEY].tolist(),
        distinct[features.GENRES_KEY].tolist()))
    counts = train[features.ITEM_KEY].value_counts()
    return Catalog(
        item_ids=item_ids, genres=genres,
        train_counts=counts.reindex(item_ids, fill_value=0).to_numpy(np.int64))


def _genres_rank(genres: bytes) -> Tuple[int, bytes]:
    return len(genres), genres
