"""Synthetic MovieLens-like ratings with learnable structure.

Deterministic for a seed (and numpy version). Item popularity and user
activity follow Zipf-like weights; each item has 1-3 genres (weighted like
MovieLens-1M; never IMAX or unknown). A rating is
mean + user bias + item bias + user-genre affinity + noise, rounded and
clipped to 1..5, so a model that learns users, items and genres beats the
global mean. With half_stars the rating is rounded to the nearest half
star and clipped to 0.5..5 instead (the MovieLens-10M/20M scale); nothing
else changes, so the same seed gives the same users, items and timestamps.
Every user has at least MIN_RATINGS_PER_USER ratings, every item at least
one (when there are at least as many ratings as items), no (user, item) pair
repeats, and rows are ordered by timestamp.

PRESETS holds the shapes of the GroupLens releases (users and movies that
have ratings, ratings): `generate_preset("ml-20m", seed)`. Numpy throughout,
except one weighted draw per user, which dominates: MovieLens-1M size takes
about 1.5 s, 10M about 20 s, 20M about 70 s of CPU (docs/data.md has the
measured figures). The returned frame takes 40 bytes a rating (the genres
column references one string per genre set); the peak is about 1.7 times
that.
"""
import math
from typing import Dict, NamedTuple

import numpy as np
import pandas as pd

from movielens_data.output import ITEM_COLUMNS, TITLE_KEY
from movielens_features import (GENRE_SEPARATOR, GENRES, GENRES_KEY,
                                     ITEM_KEY, LABEL_KEY, TIMESTAMP_KEY,
                                     USER_KEY)

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
# Ratings per block when scoring: bounds the (ratings, 3) temporaries.
_SCORE_CHUNK = 1 << 20


class SizePreset(NamedTuple):
    """The shape of a GroupLens release: users and movies with at least one
    rating, ratings, and whether ratings go in half stars (0.5..5)."""

    users: int
    items: int
    ratings: int
    half_stars: bool


# Counted in each release's ratings file (ml-10m and ml-20m list more movies
# in movies.dat, and ml-10m's README counts 71,567 users: only 69,878 of
# them have ratings in ratings.dat).
PRESETS: Dict[str, SizePreset] = {
    "ml-100k": SizePreset(943, 1_682, 100_000, half_stars=False),
    "ml-1m": SizePreset(6_040, 3_706, 1_000_209, half_stars=False),
    "ml-10m": SizePreset(69_878, 10_677, 10_000_054, half_stars=True),
    "ml-20m": SizePreset(138_493, 26_744, 20_000_263, half_stars=True),
}


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


def _taste(users: np.ndarray, items: np.ndarray, item_genres: np.ndarray,
           affinity: np.ndarray) -> np.ndarray:
    """Mean affinity of each rating's user for its item's genres, block by
    block (the same values as in one go, without (ratings, 3) arrays)."""
    taste = np.empty(len(users))
    for start in range(0, len(users), _SCORE_CHUNK):
        block = slice(start, start + _SCORE_CHUNK)
        genres = item_genres[items[block]]  # (block, 3)
        present = genres >= 0
        taste[block] = np.where(
            present, affinity[users[block, None], np.maximum(genres, 0)],
            0.0).sum(axis=1) / present.sum(axis=1)
    return taste


def _scores(rng: np.random.Generator, users: np.ndarray, items: np.ndarray,
            item_genres: np.ndarray, popularity: np.ndarray,
            num_users: int, half_stars: bool) -> np.ndarray:
    """Ratings from biases, genre affinity and noise: whole stars 1..5, or
    with half_stars half stars 0.5..5."""
    user_bias = rng.normal(0.0, 0.45, size=num_users)
    log_pop = np.log(popularity)
    # Popular items are rated a little higher, as in MovieLens.
    item_bias = rng.normal(0.0, 0.4, size=len(popularity)) + \
        0.2 * (log_pop - log_pop.mean()) / log_pop.std()
    affinity = rng.normal(0.0, 0.7, size=(num_users, len(_GENRE_NAMES)))
    taste = _taste(users, items, item_genres, affinity)
    noise = rng.normal(0.0, 0.7, size=len(users))
    # mean + user + item + taste + noise, summed in this order, in place.
    raw = user_bias[users]
    raw += _MEAN_RATING
    raw += item_bias[items]
    raw += taste
    raw += noise
    del taste, noise
    if half_stars:
        return np.clip(np.rint(raw * 2.0) / 2.0, 0.5, 5.0)
    return np.clip(np.rint(raw), 1, 5)


def _timestamps(rng: np.random.Generator, users: np.ndarray,
                counts: np.ndarray) -> np.ndarray:
    """Each user is active for a while from a random start."""
    num_users = len(counts)
    start = _START + rng.integers(0, int(_SPAN_SECONDS * 0.8), num_users)
    active = rng.exponential(60 * 86_400, num_users).astype(np.int64) + 3600
    offsets = rng.random(int(counts.sum()))
    offsets *= active[users]
    timestamps = offsets.astype(np.int64)
    del offsets
    timestamps += start[users]
    return timestamps


def generate_ratings(num_users: int, num_items: int, num_ratings: int,
                     seed: int, half_stars: bool = False) -> pd.DataFrame:
    """Synthetic ratings in pipeline form (CSV_COLUMNS), ids from 1;
    half_stars: ratings 0.5..5 in half stars instead of whole stars."""
    _check_sizes(num_users, num_items, num_ratings)
    rng = np.random.default_rng(seed)
    item_genres = _item_genres(rng, num_items)
    popularity = _zipf_weights(rng, num_items, _ITEM_ZIPF)
    counts = _ratings_per_user(rng, num_users, num_items, num_ratings)
    users = np.repeat(np.arange(num_users), counts)
    items = _pick_items(rng, counts, popularity)
    ratings = _scores(rng, users, items, item_genres, popularity, num_users,
                      half_stars)
    timestamps = _timestamps(rng, users, counts)
    order = np.argsort(timestamps, kind="stable")
    # Column by column in CSV_COLUMNS order, each source freed once copied
    # in: at 20M ratings this keeps the peak near the frame's own size.
    frame = pd.DataFrame(index=pd.RangeIndex(num_ratings))
    frame[USER_KEY] = users[order] + 1
    del users
    items = items[order]
    frame[ITEM_KEY] = items + 1
    frame[LABEL_KEY] = ratings[order]
    del ratings
    frame[TIMESTAMP_KEY] = timestamps[order]
    del timestamps, order
    frame[GENRES_KEY] = _genre_strings(item_genres)[items]
    return frame


def generate_preset(name: str, seed: int) -> pd.DataFrame:
    """Synthetic ratings at the shape of release `name` (see PRESETS)."""
    if name not in PRESETS:
        raise ValueError(f"unknown size {name!r} (known: "
                         f"{', '.join(PRESETS)})")
    preset = PRESETS[name]
    return generate_ratings(preset.users, preset.items, preset.ratings,
                            seed, half_stars=preset.half_stars)


def synthetic_items(ratings: pd.DataFrame) -> pd.DataFrame:
    """Items file rows (item_id, title, genres) for generated ratings."""
    first = ~ratings[ITEM_KEY].duplicated().to_numpy()  # an item's first
    items = pd.DataFrame({
        ITEM_KEY: ratings[ITEM_KEY].to_numpy()[first],
        GENRES_KEY: ratings[GENRES_KEY].to_numpy()[first],
    }).sort_values(ITEM_KEY, ignore_index=True)
    items[TITLE_KEY] = "Synthetic movie " + items[ITEM_KEY].astype(str)
    return items[list(ITEM_COLUMNS)]
