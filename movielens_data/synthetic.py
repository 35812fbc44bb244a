"""Synthetic MovieLens-like ratings with learnable structure.

Deterministic for a seed (and numpy version). Item popularity and user
activity follow Zipf-like weights; each item has 1-3 genres (weighted like
MovieLens-1M; never IMAX or unknown). A rating is
mean + user bias + item bias + user-genre affinity + noise, rounded and
clipped to 1..5, so a model that learns users, items and genres beats the
global mean. Every user has at least MIN_RATINGS_PER_USER ratings, every
item at least one (when there are at least as many ratings as items), no
(user, item) pair repeats, and rows are ordered by timestamp.

MovieLens-1M size (6,040 users, 3,706 items, 1,000,209 ratings) takes about
a second: numpy throughout, except one weighted draw per user.
"""
import math

import numpy as np
import pandas as pd

from movielens_data.output import ITEM_COLUMNS, TITLE_KEY
from trainer_module.features import (CSV_COLUMNS, GENRE_SEPARATOR, GENRES,
                                     GENRES_KEY, ITEM_KEY, LABEL_KEY,
                                     TIMESTAMP_KEY, USER_KEY)

MIN_RATINGS_PER_USER = 5
# Movies per genre in MovieLens-1M: how often each genre is drawn.
_GENRE_WEIGHTS = {
    "Drama": 1603, "Comedy": 1200, "Action": 503, "Thriller": 492,
    "Romance": 471, "Horror": 343, "Adventure": 283, "Sci-Fi": 276,
    "Children's": 251, "Crime": 211, "War": 143, "Documentary": 127,
    "Musical": 114, "Mystery": 106, "Animation": 105, "Fantasy": 68,
    "Western": 68, "Film-Noir": 44}
# Candidate genres in canonical order, so joined names come out sorted.
_GENRE_NAMES = tuple(name for name in GENRES if name in _GENRE_WEIGHTS)
_GENRES_PER_ITEM_P = (0.5, 0.33, 0.17)  # 1, 2 or 3 genres
_USER_ZIPF = 0.75
_ITEM_ZIPF = 0.8
# No user rates more than this share of the items unless sizes force it.
_MAX_SHARE_PER_USER = 0.6
_MEAN_RATING = 3.45
_START = 956_700_000  # April 2000, like MovieLens-1M
_SPAN_SECONDS = 3 * 365 * 86_400


def _check_sizes(num_users: int, num_items: int, num_ratings: int) -> None:
    if num_users < 1 or num_items < 1:
        raise ValueError("need at least one user and one item")
    least = num_users * min(MIN_RATINGS_PER_USER, num_items)
    if num_ratings < least:
        raise ValueError(f"{num_ratings} ratings are too few: every user "
                         f"needs {min(MIN_RATINGS_PER_USER, num_items)}, "
                         f"so at least {least}")
    if num_ratings > num_users * num_items:
        raise ValueError(f"{num_ratings} ratings exceed the "
                         f"{num_users * num_items} possible (user, item) "
                         "pairs")


def _zipf_weights(rng: np.random.Generator, size: int,
                  exponent: float) -> np.ndarray:
    """Weights proportional to rank**-exponent, ranks shuffled over ids."""
    weights = (rng.permutation(size) + 1.0) ** -exponent
    return weights / weights.sum()


def _item_genres(rng: np.random.Generator, num_items: int) -> np.ndarray:
    """(items, 3) indexes into _GENRE_NAMES, ascending, -1 padded."""
    weights = np.array([_GENRE_WEIGHTS[name] for name in _GENRE_NAMES],
                       dtype=np.float64)
    counts = rng.choice(np.arange(1, 4), size=num_items,
                        p=_GENRES_PER_ITEM_P)
    # Gumbel top-k: k distinct genres per item, drawn by weight.
    keys = np.log(weights) + rng.gumbel(size=(num_items, len(weights)))
    top = np.argsort(-keys, axis=1)[:, :3]
    top = np.where(np.arange(3) < counts[:, None], top, len(weights))
    top.sort(axis=1)
    return np.where(top == len(weights), -1, top)


def _genre_strings(item_genres: np.ndarray) -> np.ndarray:
    return np.array([GENRE_SEPARATOR.join(_GENRE_NAMES[g] for g in row
                                          if g >= 0)
                     for row in item_genres.tolist()], dtype=object)


def _ratings_per_user(rng: np.random.Generator, num_users: int,
                      num_items: int, num_ratings: int) -> np.ndarray:
    floor = min(MIN_RATINGS_PER_USER, num_items)
    cap = min(num_items, max(math.ceil(_MAX_SHARE_PER_USER * num_items),
                             math.ceil(num_ratings / num_users)))
    weights = _zipf_weights(rng, num_users, _USER_ZIPF)
    counts = floor + rng.multinomial(num_ratings - num_users * floor,
                                     weights)
    # Hand the ratings above the cap to users with room, by weight.
    for _ in range(100):
        excess = int(np.clip(counts - cap, 0, None).sum())
        if excess == 0:
            return counts
        counts = np.minimum(counts, cap)
        room = weights * (counts < cap)
        counts += rng.multinomial(excess, room / room.sum())
    # Rare (nearly dense sizes): fill the remaining room user by user.
    excess = int(np.clip(counts - cap, 0, None).sum())
    counts = np.minimum(counts, cap)
    for user in np.flatnonzero(counts < cap):
        added = min(excess, cap - int(counts[user]))
        counts[user] += added
        excess -= added
    return counts


def _pick_items(rng: np.random.Generator, counts: np.ndarray,
                popularity: np.ndarray) -> np.ndarray:
    """counts[u] distinct items for each user u, concatenated by user.

    One rating slot per item, chosen at random, is reserved first so that
    every item gets rated; the other slots are drawn by popularity without
    replacement (one numpy call per user).
    """
    num_items = len(popularity)
    picked = np.full(int(counts.sum()), -1, dtype=np.int64)
    if len(picked) >= num_items:
        slots = rng.choice(len(picked), size=num_items, replace=False)
        picked[slots] = np.arange(num_items)
    ends = np.cumsum(counts)
    for end, count in zip(ends.tolist(), counts.tolist()):
        block = picked[end - count:end]  # a view: filled in place
        free = block < 0
        if not free.any():
            continue
        weights = popularity.copy()
        weights[block[~free]] = 0.0
        block[free] = rng.choice(num_items, size=int(free.sum()),
                                 replace=False, p=weights / weights.sum())
    return picked


def _scores(rng: np.random.Generator, users: np.ndarray, items: np.ndarray,
            item_genres: np.ndarray, popularity: np.ndarray,
            num_users: int) -> np.ndarray:
    """Whole-star ratings 1..5 from biases, genre affinity and noise."""
    user_bias = rng.normal(0.0, 0.45, size=num_users)
    log_pop = np.log(popularity)
    # Popular items are rated a little higher, as in MovieLens.
    item_bias = rng.normal(0.0, 0.4, size=len(popularity)) + \
        0.2 * (log_pop - log_pop.mean()) / log_pop.std()
    affinity = rng.normal(0.0, 0.7, size=(num_users, len(_GENRE_NAMES)))
    genres = item_genres[items]  # (ratings, 3)
    present = genres >= 0
    taste = np.where(present, affinity[users[:, None], np.maximum(genres, 0)],
                     0.0).sum(axis=1) / present.sum(axis=1)
    noise = rng.normal(0.0, 0.7, size=len(users))
    raw = _MEAN_RATING + user_bias[users] + item_bias[items] + taste + noise
    return np.clip(np.rint(raw), 1, 5)


def _timestamps(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """Each user is active for a while from a random start."""
    num_users = len(counts)
    start = _START + rng.integers(0, int(_SPAN_SECONDS * 0.8), num_users)
    active = rng.exponential(60 * 86_400, num_users).astype(np.int64) + 3600
    offsets = rng.random(int(counts.sum()))
    users = np.repeat(np.arange(num_users), counts)
    return start[users] + (offsets * active[users]).astype(np.int64)


def generate_ratings(num_users: int, num_items: int, num_ratings: int,
                     seed: int) -> pd.DataFrame:
    """Synthetic ratings in pipeline form (CSV_COLUMNS), ids from 1."""
    _check_sizes(num_users, num_items, num_ratings)
    rng = np.random.default_rng(seed)
    item_genres = _item_genres(rng, num_items)
    popularity = _zipf_weights(rng, num_items, _ITEM_ZIPF)
    counts = _ratings_per_user(rng, num_users, num_items, num_ratings)
    users = np.repeat(np.arange(num_users), counts)
    items = _pick_items(rng, counts, popularity)
    ratings = _scores(rng, users, items, item_genres, popularity, num_users)
    timestamps = _timestamps(rng, counts)
    order = np.argsort(timestamps, kind="stable")
    frame = pd.DataFrame({
        USER_KEY: users[order] + 1,
        ITEM_KEY: items[order] + 1,
        LABEL_KEY: ratings[order].astype(np.float64),
        TIMESTAMP_KEY: timestamps[order],
        GENRES_KEY: _genre_strings(item_genres)[items[order]],
    })
    return frame[list(CSV_COLUMNS)]


def synthetic_items(ratings: pd.DataFrame) -> pd.DataFrame:
    """Items file rows (item_id, title, genres) for generated ratings."""
    items = ratings[[ITEM_KEY, GENRES_KEY]].drop_duplicates(ITEM_KEY) \
        .sort_values(ITEM_KEY, ignore_index=True)
    items[TITLE_KEY] = "Synthetic movie " + items[ITEM_KEY].astype(str)
    return items[list(ITEM_COLUMNS)]
