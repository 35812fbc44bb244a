"""The ranking validation study's hold-out split and row orders
(benchmarks/ranking_validation.py); no training."""
import pathlib
import sys

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from benchmarks import ranking_validation as rv  # noqa: E402

# Ratings per user -> round(20%) held out: 10 -> 2, 8 -> 2 (1.6),
# 7 -> 1 (1.4), 5 -> 1, 3 -> 1 (0.6), 1 -> 0 (0.2).
ROWS_PER_USER = {1: 10, 2: 8, 3: 7, 4: 5, 5: 3, 6: 1}
EXPECTED_HELD = {1: 2, 2: 2, 3: 1, 4: 1, 5: 1, 6: 0}
KEY = [rv.USER, rv.ITEM]


def ratings() -> pd.DataFrame:
    """Each user rates items 1..n (n from ROWS_PER_USER)."""
    rows = [(user, item, float(1 + item % 5), b"Comedy|Drama")
            for user, count in ROWS_PER_USER.items()
            for item in range(1, count + 1)]
    return pd.DataFrame(rows, columns=[rv.USER, rv.ITEM, "rating", "genres"])


def pairs(frame: pd.DataFrame) -> list:
    return sorted(map(tuple, frame[KEY].to_numpy().tolist()))


def test_holdout_takes_rounded_fifth_of_each_user():
    _, holdout = rv.split_holdout(ratings(), 0.2, seed=42)
    held = holdout.groupby(rv.USER).size().to_dict()
    assert {u: held.get(u, 0) for u in ROWS_PER_USER} == EXPECTED_HELD


def test_holdout_parts_are_disjoint_and_cover_the_input():
    train = ratings()
    fit, holdout = rv.split_holdout(train, 0.2, seed=42)
    assert not set(pairs(fit)) & set(pairs(holdout))
    assert sorted(pairs(fit) + pairs(holdout)) == pairs(train)
    # Whole rows are kept, not only the keys.
    both = pd.concat([fit, holdout]).sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        both, train.sort_values(KEY).reset_index(drop=True))


def test_holdout_is_deterministic_per_seed():
    train = ratings()
    first = rv.split_holdout(train, 0.2, seed=42)[1]
    again = rv.split_holdout(train, 0.2, seed=42)[1]
    other = rv.split_holdout(train, 0.2, seed=7)[1]
    assert pairs(first) == pairs(again)
    assert pairs(first) != pairs(other)


@pytest.fixture(scope="module")
def sampled_rounds():
    """3 rounds of 2 negatives per positive over a 40-item catalog."""
    fit = ratings()
    catalog_rows = pd.DataFrame({rv.ITEM: np.arange(1, 41),
                                 "genres": [b"Drama"] * 40})
    catalog = rv.sampler_catalog(catalog_rows)
    return fit, rv.sample_rounds(fit, catalog, negatives_per_positive=2,
                                 rounds=3, seed=42)


def test_sampled_rounds_hold_each_positive_once(sampled_rounds):
    fit, rounds = sampled_rounds
    assert len(rounds) == 3
    for index, frame in enumerate(rounds):
        assert (frame[rv.ROUND] == index).all()
        assert pairs(frame[frame[rv.LABEL] == 1]) == pairs(fit)
        assert (frame[rv.LABEL] == 0).sum() == 2 * len(fit)


def test_rounds_in_order_keeps_rounds_apart(sampled_rounds):
    fit, rounds = sampled_rounds
    rows = rv.rounds_in_order(rounds, np.random.default_rng(0))
    order = rows[rv.ROUND].to_numpy()
    assert (np.diff(order) >= 0).all()  # round r entirely before r + 1
    for index, frame in enumerate(rounds):
        mine = rows[rows[rv.ROUND] == index]
        assert pairs(mine[mine[rv.LABEL] == 1]) == pairs(fit)
        assert rows_multiset(mine) == rows_multiset(frame)
        # Shuffled within the round, not the sampler's per-user order.
        assert not np.array_equal(mine[rv.ITEM].to_numpy(),
                                  frame[rv.ITEM].to_numpy())


def test_rounds_mixed_keeps_rows_and_mixes_rounds(sampled_rounds):
    _, rounds = sampled_rounds
    rows = rv.rounds_mixed(rounds, np.random.default_rng(0))
    assert rows_multiset(rows) == rows_multiset(pd.concat(rounds))
    assert (np.diff(rows[rv.ROUND].to_numpy()) < 0).any()


def rows_multiset(frame: pd.DataFrame) -> list:
    return sorted(map(tuple, frame[[rv.USER, rv.ITEM, rv.LABEL, rv.ROUND]]
                      .to_numpy().tolist()))
