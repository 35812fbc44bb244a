"""recommender.pool (and the Catalog it builds on) against a
brute-force pandas cross join on a tiny data set with several shards."""
import numpy as np
import pandas as pd
import pytest

from recommender import pool
from recommender.catalog import build_catalog
from topk_fixtures import rows_frame
from movielens_features import ITEM_KEY, USER_KEY

# Ids are neither contiguous nor starting at 0 or 1. Specials:
#   user 10 is only in train, user 99 and user 64 only in eval;
#   item 77 is only in eval; (3, 5) is in train twice;
#   (7, 20) is in train and eval (a re-rating: in truth, not in the pool).
TRAIN_ROWS = [
    (3, 5, 4.0, b"Comedy", 1), (3, 5, 2.0, b"Comedy", 2),
    (3, 11, 3.0, None, 3), (3, 31, 5.0, b"Drama", 4),
    (7, 20, 1.0, b"Action|War", 5), (7, 40, 2.5, b"Horror", 6),
    (10, 5, 3.5, b"Comedy", 7), (10, 11, 4.5, None, 8),
    (10, 20, 4.0, b"Action|War", 9), (10, 31, 3.0, b"Drama", 10),
    (10, 40, 2.0, b"Horror", 11),
    (42, 31, 5.0, b"Drama", 12),
]
EVAL_ROWS = [
    (3, 20, 4.0, b"Action|War", 20), (3, 77, 3.0, b"Western", 21),
    (7, 20, 5.0, b"Action|War", 22), (7, 5, 2.0, b"Comedy", 23),
    (42, 11, 1.0, None, 24), (42, 77, 4.0, b"Western", 25),
    (42, 40, 3.0, b"Horror", 26),
    (99, 5, 4.0, b"Comedy", 27),
    (64, 31, 2.0, b"Drama", 28), (64, 77, 5.0, b"Western", 29),
]
ALL_USERS = [3, 7, 10, 42, 64, 99]
ALL_ITEMS = [5, 11, 20, 31, 40, 77]


@pytest.fixture(scope="module")
def train():
    return rows_frame(TRAIN_ROWS)


@pytest.fixture(scope="module")
def eval_():
    return rows_frame(EVAL_ROWS)


@pytest.fixture(scope="module")
def catalog(train, eval_):
    return build_catalog(train, eval_)


def brute_force_pool(train, eval_):
    """Every (user, item) of the data minus the train pairs, as a set."""
    users = pd.concat([train, eval_])[USER_KEY].unique()
    items = pd.concat([train, eval_])[ITEM_KEY].unique()
    cross = pd.MultiIndex.from_product([users, items]).to_frame(
        index=False, name=[USER_KEY, ITEM_KEY])
    seen = train[[USER_KEY, ITEM_KEY]].drop_duplicates()
    unseen = cross.merge(seen, how="left", indicator=True)
    unseen = unseen[unseen["_merge"] == "left_only"]
    return set(zip(unseen[USER_KEY].tolist(), unseen[ITEM_KEY].tolist()))


# Pair budgets: 1 pair (rounds up to one user per shard, 6 items > 1),
# exactly one user's worth, two users' worth plus change, three users'
# worth (two shards), four users' worth (4 + 2 users), and everything
# in one shard.
BUDGETS = [1, 6, 15, 18, 24, 10_000]


def test_catalog(catalog):
    np.testing.assert_array_equal(catalog.item_ids, ALL_ITEMS)
    assert catalog.item_ids.dtype == np.int64
    # Train counts include the duplicate (3, 5) row; item 77 is eval only.
    np.testing.assert_array_equal(catalog.train_counts, [3, 2, 2, 3, 2, 0])
    assert list(catalog.genres) == [b"Comedy", b"", b"Action|War", b"Drama",
                                    b"Horror", b"Western"]


@pytest.mark.parametrize("budget", BUDGETS)
def test_shards_partition_the_users(train, eval_, catalog, budget):
    shards = list(pool.make_shards(train, eval_, catalog, budget))
    per_shard = max(1, budget // len(ALL_ITEMS))
    assert len(shards) == -(-len(ALL_USERS) // per_shard)
    concatenated = np.concatenate([s.user_ids for s in shards])
    # Sorted, no overlap, union = every user of train and eval.
    np.testing.assert_array_equal(concatenated, ALL_USERS)
    for shard in shards:
        assert shard.user_ids.dtype == np.int64
        assert 1 <= len(shard.user_ids) <= per_shard


def test_several_shards_for_a_small_budget(train, eval_, catalog):
    shards = list(pool.make_shards(train, eval_, catalog, 15))
    assert [list(s.user_ids) for s in shards] == [[3, 7], [10, 42], [64, 99]]


@pytest.mark.parametrize("budget", BUDGETS)
def test_candidate_pairs_are_the_pool(train, eval_, catalog, budget):
    expected = brute_force_pool(train, eval_)
    got = []
    for shard in pool.make_shards(train, eval_, catalog, budget):
        users, cols = pool.candidate_pairs(shard, len(catalog.item_ids))
        pairs = list(zip(users.tolist(), catalog.item_ids[cols].tolist()))
        assert len(pairs) == len(set(pairs))
        # A shard's pairs are its own users' pairs only.
        assert set(users.tolist()) <= set(shard.user_ids.tolist())
        if budget >= len(ALL_ITEMS):
            assert len(pairs) <= budget
        got.extend(pairs)
    assert len(got) == len(set(got))  # no pair in two shards
    assert set(got) == expected
    # Spot checks of the specials.
    assert (99, 77) in expected and (64, 5) in expected  # eval-only user/item
    assert (10, 77) in expected  # train-only user, eval-only item
    assert (7, 20) not in expected and (3, 5) not in expected


@pytest.mark.parametrize("budget", BUDGETS)
def test_truth_rows_are_the_shards_eval_rows(train, eval_, catalog, budget):
    seen_truth = []
    for shard in pool.make_shards(train, eval_, catalog, budget):
        mine = eval_[eval_[USER_KEY].isin(shard.user_ids)]
        assert sorted(zip(shard.truth_user_ids.tolist(),
                          shard.truth_item_ids.tolist())) == sorted(
            zip(mine[USER_KEY].tolist(), mine[ITEM_KEY].tolist()))
        seen_truth.extend(zip(shard.truth_user_ids.tolist(),
                              shard.truth_item_ids.tolist()))
    assert sorted(seen_truth) == sorted((r[0], r[1]) for r in EVAL_ROWS)


@pytest.mark.parametrize("budget", BUDGETS)
def test_seen_pairs_are_the_shards_train_rows(train, eval_, catalog, budget):
    for shard in pool.make_shards(train, eval_, catalog, budget):
        seen = set(zip(shard.user_ids[shard.seen_rows].tolist(),
                       catalog.item_ids[shard.seen_cols].tolist()))
        mine = train[train[USER_KEY].isin(shard.user_ids)]
        assert seen == set(zip(mine[USER_KEY].tolist(),
                               mine[ITEM_KEY].tolist()))


def test_pool_size(train, eval_, catalog):
    expected = brute_force_pool(train, eval_)
    # 6 users x 6 items - 11 distinct train pairs (12 rows, one duplicate).
    assert len(expected) == 6 * 6 - 11 == 25
    assert pool.pool_size(train, eval_, catalog) == 25


def test_all_users_includes_eval_only_users(train, eval_):
    users = pool.all_users(train, eval_)
    np.testing.assert_array_equal(users, ALL_USERS)
    assert users.dtype == np.int64


def test_one_user_one_item():
    train = rows_frame([(1, 2, 3.0, None, 0)])
    eval_ = rows_frame([(5, 2, 4.0, None, 1)])
    catalog = build_catalog(train, eval_)
    shards = list(pool.make_shards(train, eval_, catalog, 1))
    assert [list(s.user_ids) for s in shards] == [[1], [5]]
    pairs = [pool.candidate_pairs(s, 1) for s in shards]
    assert [len(users) for users, _ in pairs] == [0, 1]
    assert pairs[1][0].tolist() == [5] and pairs[1][1].tolist() == [0]
    assert pool.pool_size(train, eval_, catalog) == 1

