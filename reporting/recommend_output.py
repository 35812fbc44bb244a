"""How the recommend command shows recommendations: text tables with
titles and genres, and a streamed CSV of every user's."""
import os
import sys
import time
from typing import TYPE_CHECKING, Dict, Iterator, Optional

import pandas as pd

from reporting.recommend_ranking import (PREDICTED_KEY, PROBABILITY_KEY,
                                         RANK_KEY, SCORE_KEY)
import movielens_features as features

if TYPE_CHECKING:
    from recommender.catalog import Catalog

TITLE_KEY = "title"


def describe_items(frame: pd.DataFrame, catalog: "Catalog",
                   titles: Optional[Dict[int, str]]) -> pd.DataFrame:
    """frame with title (if titles) and genres columns after item_id."""
    frame = frame.copy()
    at = frame.columns.get_loc(features.ITEM_KEY) + 1
    genres = pd.Series(catalog.genres, index=catalog.item_ids)
    frame.insert(at, features.GENRES_KEY, [
        _text(value) for value in genres.loc[frame[features.ITEM_KEY]]])
    if titles is not None:
        frame.insert(at, TITLE_KEY, [
            titles.get(item, "") for item in frame[features.ITEM_KEY]])
    return frame


def format_table(frame: pd.DataFrame) -> str:
    """A text table: numbers right-aligned (floats to 3 decimals), text
    left-aligned (DataFrame.to_string right-aligns text)."""
    columns = []
    for name in frame.columns:
        values = frame[name]
        numeric = pd.api.types.is_numeric_dtype(values)
        cells = [f"{v:.3f}" if pd.api.types.is_float_dtype(values)
                 else str(v) for v in values]
        width = max([len(name), *map(len, cells)])
        align = str.rjust if numeric else str.ljust
        columns.append([align(text, width) for text in [name, *cells]])
    return "\n".join("  ".join(row).rstrip() for row in zip(*columns))


def user_table(recommendations: pd.DataFrame, catalog: "Catalog",
               titles: Optional[Dict[int, str]]) -> str:
    """One user's recommendations without the user_id column."""
    value_key = (PROBABILITY_KEY if PROBABILITY_KEY in recommendations
                 else PREDICTED_KEY)
    shown = recommendations.drop(columns=[features.USER_KEY])
    shown = shown[[RANK_KEY, features.ITEM_KEY, value_key, SCORE_KEY]]
    return format_table(describe_items(shown, catalog, titles))


def write_batch_csv(path: str, shards: Iterator[pd.DataFrame],
                    titles: Optional[Dict[int, str]], total_users: int
                    ) -> int:
    """Streams shard frames to a CSV; returns the number of rows.

    Written under a temporary name and renamed, so a failed run never
    leaves a partial file that looks complete.
    """
    temp = f"{path}.{os.getpid()}.tmp"
    rows, users, started = 0, 0, time.time()
    try:
        with open(temp, "w", newline="") as out:
            for index, frame in enumerate(shards):
                if titles is not None:
                    frame = frame.assign(**{TITLE_KEY: [
                        titles.get(item, "")
                        for item in frame[features.ITEM_KEY]]})
                frame.to_csv(out, index=False, header=index == 0,
                             float_format="%.6f", lineterminator="\n")
                rows += len(frame)
                users += frame[features.USER_KEY].nunique()
                progress(f"{users}/{total_users} users "
                          f"({time.time() - started:.1f} s)")
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    return rows


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
