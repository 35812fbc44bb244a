"""The per-user stratified split, as plain functions of one user (no Beam;
executor.py runs them per user).

Semantics of Microsoft Recommenders' `python_stratified_split` (ratio 0.75,
filter_by "user"): each user's ratings are shuffled with a seeded generator
and the first share goes to train, the rest to eval. Unlike a random split
of all ratings, every user with at least 2 ratings lands in both splits:
a user with n >= 2 ratings gets round(train_fraction * n) of them in train,
but at least 1 and at most n - 1. A user with one rating is train only.

Determinism: a user's rows are put in a canonical order (sorted by their
values) before the seeded shuffle, and the generator is seeded by
(seed, user_id), so the split depends only on the data and the seed, never on
file order or on how Beam groups the work.
"""
import math
from typing import Hashable, List, Sequence, Tuple, TypeVar

import numpy as np

Row = TypeVar("Row")

# Seeds are hashed with the user id into a generator; ids are int64.
_UINT64 = 1 << 64


def num_train(num_ratings: int, train_fraction: float) -> int:
    """How many of a user's `num_ratings` go to train.

    round(train_fraction * n), halves rounded up (3 of 4, 4 of 5, 2 of 3),
    then clamped to [1, n - 1] so that a user with n >= 2 ratings is in
    both splits; 1 for a single rating, 0 for none.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got "
                         f"{train_fraction}")
    if num_ratings <= 1:
        return num_ratings
    rounded = math.floor(train_fraction * num_ratings + 0.5)
    return min(num_ratings - 1, max(1, rounded))


def user_generator(seed: int, user_id: int) -> np.random.Generator:
    """The generator of one user's shuffle: a function of (seed, user)."""
    return np.random.default_rng([seed % _UINT64, user_id % _UINT64])


def split_user_rows(rows: Sequence[Row], sort_keys: Sequence[Hashable],
                    user_id: int, seed: int, train_fraction: float
                    ) -> Tuple[List[Row], List[Row]]:
    """(train rows, eval rows) of one user's ratings.

    Args:
      rows: the user's ratings, in any order.
      sort_keys: one comparable key per row (its values), giving the
        canonical order the seeded shuffle starts from. Rows with equal keys
        are identical data, so their relative order does not matter.
      user_id: the user's id (seeds the generator with `seed`).
      train_fraction: the share of each user's ratings in train.
    """
    if len(rows) != len(sort_keys):
        raise ValueError(f"{len(rows)} rows but {len(sort_keys)} sort keys")
    canonical = sorted(range(len(rows)), key=lambda index: sort_keys[index])
    shuffled = user_generator(seed, user_id).permutation(len(rows))
    order = [canonical[position] for position in shuffled]
    cut = num_train(len(rows), train_fraction)
    return ([rows[index] for index in order[:cut]],
            [rows[index] for index in order[cut:]])
