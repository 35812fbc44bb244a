"""Beyond-accuracy metrics (recommender/beyond_accuracy.py): each against
hand-computed values, against a direct pandas port of Microsoft
Recommenders' python_evaluation on a random fixture, shards adding up, and
the TopKEvaluator's RankShard giving every ranker's sums. (The executor's
metrics.json and summary: tests/test_topk_executor.py.)

Fixture (Recommenders' own, tests/unit/.../conftest.py diversity_data):
  train: u1: i1 i2 i4 | u2: i3 i4 | u3: i3 i4 i5        (8 rows)
  reco:  u1: i3 i5    | u2: i2 i5 | u3: i1 i2           (6 rows)
  train users per item n: i1 1, i2 1, i3 2, i4 3, i5 1 (5 distinct items)
  co-occurrence c (users with both): (1,2) 1 [u1], (1,4) 1, (2,4) 1,
      (3,4) 2 [u2, u3], (3,5) 1 [u3], (4,5) 1; every other pair 0
  sim = c / sqrt(n_i n_j): (1,2) 1, (1,4) 1/sqrt3, (2,4) 1/sqrt3,
      (3,4) 2/sqrt6, (3,5) 1/sqrt2, (4,5) 1/sqrt3
"""
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from components.topk_evaluator import evaluate
from recommender import beyond_accuracy, ease, metrics, pool
from recommender.beyond_accuracy import (BeyondAccuracySums, Cooccurrence,
                                         finalize, shard_sums)
from recommender.catalog import build_catalog
from movielens_features import (GENRES_KEY, ITEM_KEY, LABEL_KEY,
                                     USER_KEY)

TRAIN_USERS = [1, 1, 1, 2, 2, 3, 3, 3]
TRAIN_ITEMS = [1, 2, 4, 3, 4, 3, 4, 5]
RECO_USERS = [1, 1, 2, 2, 3, 3]
RECO_ITEMS = [3, 5, 2, 5, 1, 2]
S2, S3, S6 = math.sqrt(2), math.sqrt(3), math.sqrt(6)

# catalog coverage: reco items {1, 2, 3, 5} / train items {1..5} = 4 / 5
# (Recommenders' test: 0.8).
# distributional coverage: reco rows per item i3 1, i5 2, i2 2, i1 1 of 6:
#   -(2 (1/6) log2(1/6) + 2 (1/3) log2(1/3)) (Recommenders: 1.9183).
# novelty: -log2(n_i / 8): i1 3, i2 3, i3 2, i5 3; rows i3 + 2 i5 + 2 i2
#   + i1 = (2 + 6 + 6 + 3) / 6 = 17 / 6 (Recommenders: 2.83333).
# diversity: u1 1 - sim(3,5) = 1 - 1/sqrt2, u2 1 - sim(2,5) = 1,
#   u3 1 - sim(1,2) = 0; mean (2 - 1/sqrt2) / 3 (Recommenders: 0.43096).
# serendipity (every item relevant, Recommenders' default):
#   u1 (train 1 2 4): i3 1 - (0 + 0 + 2/sqrt6)/3, i5 1 - (0 + 0 + 1/sqrt3)/3
#   u2 (train 3 4): i2 1 - (0 + 1/sqrt3)/2, i5 1 - (1/sqrt2 + 1/sqrt3)/2
#   u3 (train 3 4 5): i1 1 - (0 + 1/sqrt3 + 0)/3, i2 the same
#   (Recommenders' per-item values with relevance: 0.72783, -, 0.71132,
#   0.35777, 0.80755, -)
SERENDIPITY_U1 = 1 - (2 / S6 + 1 / S3) / 6
SERENDIPITY_U2 = 1 - (1 / S3 + 1 / S2 + 1 / S3) / 4
SERENDIPITY_U3 = 1 - 1 / (3 * S3)
HAND = {
    "catalog_coverage": 4 / 5,
    "distributional_coverage": 2 / 6 * math.log2(6) + 2 / 3 * math.log2(3),
    "novelty": 17 / 6,
    "diversity": (2 - 1 / S2) / 3,
    "serendipity": (SERENDIPITY_U1 + SERENDIPITY_U2 + SERENDIPITY_U3) / 3,
}


def assert_metrics(actual, expected, rel=1e-9):
    assert list(actual) == list(beyond_accuracy.METRIC_NAMES)
    for name in beyond_accuracy.METRIC_NAMES:
        if math.isnan(expected[name]):
            assert math.isnan(actual[name]), name
        else:
            assert actual[name] == pytest.approx(expected[name], rel=rel,
                                                 abs=1e-12), name


# ------------------------------------------------------------ by hand


def test_the_hand_values_are_recommenders_published_ones():
    """Recommenders' own test expectations (4-5 digits) agree with the
    arithmetic above."""
    assert HAND["catalog_coverage"] == 0.8
    assert HAND["distributional_coverage"] == pytest.approx(1.9183, abs=1e-4)
    assert HAND["novelty"] == pytest.approx(2.83333, abs=1e-5)
    assert HAND["diversity"] == pytest.approx(0.43096, abs=1e-5)
    assert 1 - 2 / (3 * S6) == pytest.approx(0.72783, abs=1e-5)
    assert 1 - (1 / S2 + 1 / S3) / 2 == pytest.approx(0.35777, abs=1e-5)


def test_every_metric_by_hand():
    assert_metrics(beyond_accuracy.beyond_accuracy(
        TRAIN_USERS, TRAIN_ITEMS, RECO_USERS, RECO_ITEMS), HAND)


def test_shard_sums_by_hand():
    """Users are rows 0..2, items columns 0..4 (i1..i5)."""
    history = beyond_accuracy.train_matrix(
        TRAIN_USERS, np.subtract(TRAIN_ITEMS, 1), 5)
    sums = shard_sums([0, 0, 1, 1, 2, 2], np.subtract(RECO_ITEMS, 1),
                      history, Cooccurrence(history))
    assert sums.item_counts.tolist() == [1, 2, 1, 0, 2]
    assert sums.diversity == pytest.approx(1 - 1 / S2 + 1 + 0)
    assert sums.diversity_users == 3
    assert sums.serendipity == pytest.approx(
        SERENDIPITY_U1 + SERENDIPITY_U2 + SERENDIPITY_U3)
    assert sums.serendipity_users == 3


def test_users_without_pairs_or_train_items_are_left_out():
    """A one-item list has no pair (left out of diversity, as Recommenders
    drops it); a user without train items is left out of serendipity (its
    inner join); an item without train rows has similarity 0 and novelty
    0 but counts in coverage and in the novelty mean's rows.

    reco: u1: i3 | u9 (no train): i1 i6 (i6 has no train row)
      coverage: {1, 3, 6} / 5 train items; rows i1 1, i3 1, i6 1 of 3
      novelty: (3 + 2 + 0) / 3
      diversity: only u9: 1 - sim(1, 6) = 1
      serendipity: only u1: 1 - (0 + 0 + 2/sqrt6) / 3"""
    assert_metrics(beyond_accuracy.beyond_accuracy(
        TRAIN_USERS, TRAIN_ITEMS, [1, 9, 9], [3, 1, 6]),
        {"catalog_coverage": 3 / 5,
         "distributional_coverage": math.log2(3), "novelty": 5 / 3,
         "diversity": 1.0, "serendipity": 1 - 2 / (3 * S6)})


def test_no_list_of_two_items_leaves_diversity_undefined():
    """k = 1: Recommenders' mean over no user is NaN; so is ours."""
    result = beyond_accuracy.beyond_accuracy(TRAIN_USERS, TRAIN_ITEMS,
                                             [1, 2], [3, 2])
    assert math.isnan(result["diversity"])
    # u1: 1 - (0 + 0 + 2/sqrt6)/3, u2: 1 - (0 + 1/sqrt3)/2
    assert result["serendipity"] == pytest.approx(
        (2 - 2 / (3 * S6) - 1 / (2 * S3)) / 2)


def test_recommending_a_train_pair_is_refused():
    with pytest.raises(ValueError, match="1 recommended .* in train"):
        beyond_accuracy.beyond_accuracy(TRAIN_USERS, TRAIN_ITEMS,
                                        [1, 1], [3, 4])


def test_finalize_checks_its_inputs():
    sums = BeyondAccuracySums(np.array([1, 0, 2]))
    with pytest.raises(ValueError, match="train_counts has 2 items"):
        finalize(sums, np.array([1, 1]))
    with pytest.raises(ValueError, match="no train rows"):
        finalize(sums, np.zeros(3))
    with pytest.raises(ValueError, match="3 and 2 items"):
        _ = sums + BeyondAccuracySums(np.array([1, 1]))


# ------------------------------------------- Recommenders, ported directly


def recommenders_metrics(train: pd.DataFrame, reco: pd.DataFrame):
    """python_evaluation's catalog_coverage, distributional_coverage,
    novelty, diversity and serendipity (item_cooccurrence_count, no
    relevance column), step by step as it computes them with pandas."""
    user, item = "user", "item"
    # _get_cooccurrence_similarity: pairs of each user's items, i1 <= i2.
    both = train.merge(train, on=user, suffixes=("1", "2"))
    pairs = both[both.item1 <= both.item2]
    counts = pairs.groupby(["item1", "item2"]).size().rename("count")
    sqrt_count = train.groupby(item).size() ** 0.5
    similarity = counts.reset_index()
    similarity["sim"] = similarity["count"] / (
        sqrt_count[similarity.item1].to_numpy()
        * sqrt_count[similarity.item2].to_numpy())
    similarity = similarity.rename(columns={"item1": "i1", "item2": "i2"})[
        ["i1", "i2", "sim"]]

    def with_similarity(frame):
        merged = frame.merge(similarity, on=["i1", "i2"], how="left")
        merged["sim"] = merged["sim"].fillna(0)
        return merged

    # diversity: _get_intralist_similarity, user_diversity, diversity
    reco_pairs = reco.merge(reco, on=user, suffixes=("1", "2"))
    reco_pairs = reco_pairs[reco_pairs.item1 <= reco_pairs.item2].rename(
        columns={"item1": "i1", "item2": "i2"})
    listed = with_similarity(reco_pairs)
    listed = listed[listed.i1 != listed.i2]
    diversity = (1 - listed.groupby(user)["sim"].mean()).mean()
    # serendipity: user_item_serendipity, user_serendipity, serendipity
    joined = reco.merge(train.rename(columns={item: "seen"}), on=user)
    joined["i1"] = joined[[item, "seen"]].min(axis=1)
    joined["i2"] = joined[[item, "seen"]].max(axis=1)
    joined = with_similarity(joined)
    per_item = 1 - joined.groupby([user, item])["sim"].mean()
    serendipity = per_item.groupby(level=user).mean().mean()
    # coverage and novelty
    reco_counts = reco.groupby(item).size()
    share = reco_counts / len(reco)
    item_novelty = -np.log2(train.groupby(item).size() / len(train))
    novelty = (reco_counts * item_novelty).dropna().sum() / len(reco)
    return {
        "catalog_coverage": reco[item].nunique() / train[item].nunique(),
        "distributional_coverage": float(-(share * np.log2(share)).sum()),
        "novelty": float(novelty), "diversity": float(diversity),
        "serendipity": float(serendipity)}


def random_fixture(seed: int, users: int = 40, items: int = 30):
    """Train pairs (some users and items without any) and top-k lists of
    1 to 6 unseen items per user, in random order."""
    rng = np.random.default_rng(seed)
    popularity = rng.pareto(1.0, items) + 0.1
    popularity[rng.choice(items, 3, replace=False)] = 0  # never in train
    train, reco = [], []
    for user in range(users):
        rated = (rng.choice(items, rng.integers(0, min(12, items // 2)),
                            replace=False,
                            p=popularity / popularity.sum())
                 if user % 9 else np.zeros(0, int))  # every 9th: no train
        train += [(user, item) for item in rated]
        unseen = np.setdiff1d(np.arange(items), rated)
        reco += [(user, item) for item in rng.choice(
            unseen, min(rng.integers(1, 7), unseen.size), replace=False)]
    rng.shuffle(reco)
    return (pd.DataFrame(train, columns=["user", "item"]),
            pd.DataFrame(reco, columns=["user", "item"]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_recommenders_formulas_on_random_data(seed):
    train, reco = random_fixture(seed)
    expected = recommenders_metrics(train, reco)
    actual = beyond_accuracy.beyond_accuracy(
        train.user.to_numpy(), train.item.to_numpy(), reco.user.to_numpy(),
        reco.item.to_numpy())
    assert_metrics(actual, expected)


# ------------------------------------------------------------ shards


def sums_by_shard(train, reco, user_groups, num_items, cooccurrence):
    """One shard_sums per group of users, each with only its users' train
    rows (as a pool.UserShard holds them)."""
    total = None
    for group in user_groups:
        shard_train = train[train.user.isin(group)]
        shard_reco = reco[reco.user.isin(group)].sort_values(
            "user", kind="stable")
        rows = np.searchsorted(group, shard_reco.user.to_numpy())
        history = scipy.sparse.csr_matrix(
            (np.ones(len(shard_train)),
             (np.searchsorted(group, shard_train.user.to_numpy()),
              shard_train.item.to_numpy())), shape=(len(group), num_items))
        sums = shard_sums(rows, shard_reco.item.to_numpy(), history,
                          cooccurrence)
        # Through JSON, as the Beam job writes the combined sums.
        sums = BeyondAccuracySums.from_dict(sums.as_dict())
        total = sums if total is None else total + sums
    return total


@pytest.mark.parametrize("cached_entries", [1 << 26, 60])
def test_shards_add_up_to_the_whole(cached_entries):
    """Three shards of users (and a Cooccurrence that keeps only two rows
    of 30 items, so rows are evicted and computed again) give the
    one-shard metrics."""
    train, reco = random_fixture(3)
    num_items = 30
    matrix = beyond_accuracy.train_matrix(train.user.to_numpy(),
                                          train.item.to_numpy(), num_items)
    cooccurrence = Cooccurrence(matrix, max_cached_entries=cached_entries)
    users = np.arange(40)
    whole = sums_by_shard(train, reco, [users], num_items, cooccurrence)
    sharded = sums_by_shard(train, reco, np.array_split(users, 3),
                            num_items, cooccurrence)
    train_counts = np.bincount(train.item, minlength=num_items)
    assert sharded.item_counts.tolist() == whole.item_counts.tolist()
    assert sharded.diversity_users == whole.diversity_users
    assert sharded.serendipity_users == whole.serendipity_users
    assert_metrics(finalize(sharded, train_counts),
                   finalize(whole, train_counts))
    assert_metrics(finalize(sharded, train_counts),
                   recommenders_metrics(train, reco))


def test_cooccurrence_rows_are_the_gram_matrix():
    train, _ = random_fixture(4)
    matrix = beyond_accuracy.train_matrix(train.user.to_numpy(),
                                          train.item.to_numpy(), 30)
    dense = matrix.toarray()
    gram = dense.T @ dense
    cooccurrence = Cooccurrence(matrix, max_cached_entries=90)  # 3 rows
    for items in ([4, 1, 4], [0, 29, 1, 7], [7, 4]):
        np.testing.assert_array_equal(cooccurrence.rows(np.array(items)),
                                      gram[items])


# ------------------------------------------------ the evaluator's shards


def test_rank_shard_yields_each_rankers_sums(tmp_path):
    """RankShard without a model: popularity and EASE, three users per
    shard, sum to the plain function's metrics of their top-k lists."""
    rng = np.random.default_rng(5)
    skew = np.arange(10, 0, -1) / 55  # item 0 the most popular
    train = pd.DataFrame(
        [(user, item, 4.0, b"Drama") for user in range(12)
         for item in rng.choice(10, rng.integers(2, 6), replace=False,
                                p=skew)],
        columns=[USER_KEY, ITEM_KEY, LABEL_KEY, GENRES_KEY])
    eval_ = train.iloc[:0]
    catalog = build_catalog(train, eval_)
    shards = list(pool.make_shards(
        train, eval_, catalog, max_pairs_per_shard=3 * len(catalog.item_ids)))
    ease_path = evaluate.save_ease_weights(
        evaluate.fit_ease(train, catalog, 5.0), str(tmp_path))
    train_path = evaluate.save_train_matrix(train, catalog, str(tmp_path))
    k = 3
    rank_shard = evaluate.RankShard({}, [1, 2], ease_path, (k, train_path))
    rank_shard.setup()
    totals, lists = {}, {}
    for shard in shards:
        for (ranker, key), sums in rank_shard.process(shard, catalog):
            if key == evaluate.BEYOND_ACCURACY:
                totals[ranker] = (sums + totals[ranker] if ranker in totals
                                  else sums)
        for ranker, pairs in _plain_lists(shard, catalog, ease_path,
                                          k).items():
            lists.setdefault(ranker, []).append(pairs)
    assert len(shards) == 4
    assert set(totals) == {evaluate.POPULARITY, evaluate.EASE}
    for ranker, pairs in lists.items():
        users, items = (np.concatenate(column) for column in zip(*pairs))
        assert users.size == 12 * k
        assert_metrics(finalize(totals[ranker], catalog.train_counts),
                       beyond_accuracy.beyond_accuracy(
                           train[USER_KEY], train[ITEM_KEY], users, items))


def _plain_lists(shard, catalog, ease_path, k):
    """Each ranker's top-k (user, item) arrays of one shard, ranked here."""
    users, cols = pool.candidate_pairs(shard, len(catalog.item_ids))
    scores = {evaluate.POPULARITY: catalog.train_counts[cols],
              evaluate.EASE: ease.shard_scores(
                  evaluate.load_ease_weights(ease_path), shard, users, cols)}
    result = {}
    for ranker, score in scores.items():
        top = metrics.top_k_per_user(users, catalog.item_ids[cols], score, k)
        result[ranker] = (top.user_ids, top.item_ids)
    return result
