"""Hand-computed checks of recommender.metrics."""
import math

import numpy as np
import pandas as pd
import pytest

from recommender import metrics
from movielens_features import ITEM_KEY, LABEL_KEY, USER_KEY

PRED = metrics.DEFAULT_PREDICTION_COL
K = 3

# Predictions, k=3. Top 3 per user:
#   user 1: scores 0.9..0.5 on items 1..5      -> [1, 2, 3]
#   user 2: scores 0.1..0.5 on items 1..5      -> [5, 4, 3]
#   user 3: only 2 candidates (items 1, 2)     -> [1, 2]
#   user 4: no truth                           -> excluded
PREDICTIONS = pd.DataFrame(
    [(1, 1, .9), (1, 2, .8), (1, 3, .7), (1, 4, .6), (1, 5, .5),
     (2, 1, .1), (2, 2, .2), (2, 3, .3), (2, 4, .4), (2, 5, .5),
     (3, 1, .5), (3, 2, .4),
     (4, 1, .9), (4, 2, .8)],
    columns=[USER_KEY, ITEM_KEY, PRED])

# Truth: every row is relevant, even rating 1.
#   user 1: {2, 3, 4, 5} (4 relevant > k) -> hits at ranks 2, 3
#   user 2: {5, 3} (2 relevant < k)       -> hits at ranks 1, 3
#   user 3: {4}                           -> no hit
#   user 5: no predictions                -> excluded
TRUTH = pd.DataFrame(
    [(1, 2, 5.0), (1, 3, 1.0), (1, 4, 4.0), (1, 5, 2.0),
     (2, 5, 3.0), (2, 3, 1.0),
     (3, 4, 5.0),
     (5, 1, 4.0)],
    columns=[USER_KEY, ITEM_KEY, LABEL_KEY])

LN2, LN3, LN4 = math.log(2), math.log(3), math.log(4)
# dcg / idcg per user (binary relevance, natural log):
#   user 1: (1/ln3 + 1/ln4) / (1/ln2 + 1/ln3 + 1/ln4)   idcg over min(4, 3)
#   user 2: (1/ln2 + 1/ln4) / (1/ln2 + 1/ln3)           idcg over min(2, 3)
#   user 3: 0
NDCG_USER1 = (1 / LN3 + 1 / LN4) / (1 / LN2 + 1 / LN3 + 1 / LN4)
NDCG_USER2 = (1 / LN2 + 1 / LN4) / (1 / LN2 + 1 / LN3)

EXPECTED_RANKING = {
    # (2/3 + 2/3 + 0/3) / 3
    "precision@k": 4 / 9,
    # (2/4 + 2/2 + 0/1) / 3
    "recall@k": 1 / 2,
    "ndcg@k": (NDCG_USER1 + NDCG_USER2 + 0) / 3,
    # AP numerators: user 1: 1/2 + 2/3 = 7/6; user 2: 1/1 + 2/3 = 5/3.
    # map: (7/6 / 4 + 5/3 / 2 + 0) / 3 = (7/24 + 20/24) / 3 = 3/8
    "map": 3 / 8,
    # map@k: (7/6 / min(4,3) + 5/3 / min(2,3) + 0) / 3 = (7/18 + 15/18) / 3
    "map@k": 11 / 27,
    "num_users": 3,
}


def _arrays(df, *columns):
    return [df[column].to_numpy() for column in columns]


def _top_k(df, k=K):
    return metrics.top_k_per_user(*_arrays(df, USER_KEY, ITEM_KEY, PRED), k)


def _as_lists(top_k):
    """{user: [item, ...]} in rank order."""
    lists = {}
    for user, item in zip(top_k.user_ids.tolist(), top_k.item_ids.tolist()):
        lists.setdefault(user, []).append(item)
    return lists


def _partial_sums(predictions, truth, k=K):
    return metrics.ranking_partial_sums(
        _top_k(predictions, k), *_arrays(truth, USER_KEY, ITEM_KEY))


def _assert_metrics(actual, expected):
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        assert actual[name] == pytest.approx(value, rel=1e-12), name


# ----------------------------------------------------------------- top k


def test_top_k_lists_and_ranks():
    top_k = _top_k(PREDICTIONS)
    assert _as_lists(top_k) == {
        1: [1, 2, 3], 2: [5, 4, 3], 3: [1, 2], 4: [1, 2]}
    assert top_k.ranks.tolist() == [1, 2, 3, 1, 2, 3, 1, 2, 1, 2]
    assert top_k.k == K


def test_top_k_ties_break_by_item_id_whatever_the_row_order():
    # user 7: all scores tie -> items ascending; user 8: tie at the k-th
    # place between items 2, 3, 4 (score .5) -> 2 wins after item 1 (.9).
    rows = pd.DataFrame(
        [(7, 5, .5), (7, 3, .5), (7, 1, .5), (7, 4, .5), (7, 2, .5),
         (8, 4, .5), (8, 5, .1), (8, 3, .5), (8, 1, .9), (8, 2, .5)],
        columns=[USER_KEY, ITEM_KEY, PRED])
    expected = {7: [1, 2], 8: [1, 2]}
    for seed in range(5):
        shuffled = rows.sample(frac=1, random_state=seed)
        assert _as_lists(_top_k(shuffled, k=2)) == expected


def test_top_k_is_exact_below_float32_precision():
    # The float32 pre-filter must not merge scores 1e-12 apart.
    top_k = metrics.top_k_per_user(
        [1, 1, 1, 1], [1, 2, 3, 4],
        [1.0, 1.0 + 1e-12, 1.0 + 2e-12, 1.0 + 3e-12], k=2)
    assert _as_lists(top_k) == {1: [4, 3]}


def test_top_k_treats_negative_zero_as_a_tie_with_zero():
    # -0.0 == +0.0, so item 1 beats item 2 on id; the pre-filter must agree.
    top_k = metrics.top_k_per_user([1, 1, 1], [2, 1, 3], [0.0, -0.0, -1.0], 1)
    assert _as_lists(top_k) == {1: [1]}


def test_top_k_matches_brute_force_on_random_pool():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 50, 5000)
    items = rng.permutation(5000)  # unique pairs
    scores = rng.integers(0, 20, 5000) / 4  # many ties
    top_k = metrics.top_k_per_user(users, items, scores, k=7)
    expected = {}
    for user, item, score in sorted(zip(users, items, scores),
                                    key=lambda row: (row[0], -row[2], row[1])):
        if len(expected.setdefault(int(user), [])) < 7:
            expected[int(user)].append(int(item))
    assert _as_lists(top_k) == expected


def test_top_k_accepts_string_ids_and_empty_input():
    top_k = metrics.top_k_per_user(
        np.array(["b", "a", "a"]), np.array(["y", "z", "x"]), [1, 2, 2], 1)
    assert _as_lists(top_k) == {"a": ["x"], "b": ["y"]}
    empty = metrics.top_k_per_user([], [], [], 1)
    assert empty.user_ids.size == empty.ranks.size == 0


def test_top_k_rejects_bad_input():
    with pytest.raises(ValueError):
        metrics.top_k_per_user([1], [1], [0.5], 0)
    with pytest.raises(ValueError):
        metrics.top_k_per_user([1], [1], [float("nan")], 1)
    with pytest.raises(ValueError):
        metrics.top_k_per_user([1, 2], [1], [0.5], 1)


# --------------------------------------------------------------- ranking


def test_per_user_terms_by_hand():
    terms = metrics.per_user_ranking_terms(
        _top_k(PREDICTIONS), *_arrays(TRUTH, USER_KEY, ITEM_KEY))
    assert terms.user_ids.tolist() == [1, 2, 3]  # users 4 and 5 excluded
    assert terms.n_relevant.tolist() == [4, 2, 1]
    assert terms.hits.tolist() == [2, 2, 0]
    assert terms.dcg == pytest.approx([1 / LN3 + 1 / LN4, 1 / LN2 + 1 / LN4, 0])
    assert terms.idcg == pytest.approx(
        [1 / LN2 + 1 / LN3 + 1 / LN4, 1 / LN2 + 1 / LN3, 1 / LN2])
    assert terms.ap_numerator == pytest.approx([7 / 6, 5 / 3, 0])


def test_ranking_metrics_by_hand():
    actual = metrics.ranking_metrics(TRUTH, PREDICTIONS, k=K)
    _assert_metrics(actual, EXPECTED_RANKING)


def test_duplicate_truth_rows_count_once():
    truth = pd.concat([TRUTH, TRUTH.iloc[:2]])
    _assert_metrics(metrics.ranking_metrics(truth, PREDICTIONS, k=K),
                    EXPECTED_RANKING)


def test_no_common_users_gives_zeros():
    actual = metrics.ranking_metrics(
        TRUTH[TRUTH[USER_KEY] == 5], PREDICTIONS, k=K)
    _assert_metrics(actual, {**{name: 0.0 for name in
                                metrics.RANKING_METRIC_NAMES},
                             "num_users": 0})


def test_two_shards_add_up_to_one():
    shard_users = ({1, 3, 5}, {2, 4})
    shard_sums = [
        _partial_sums(PREDICTIONS[PREDICTIONS[USER_KEY].isin(users)],
                      TRUTH[TRUTH[USER_KEY].isin(users)])
        for users in shard_users]
    combined = metrics.combine_ranking_sums(shard_sums)
    # user 1 and 3 in the first shard, user 2 in the second.
    assert [sums.num_users for sums in shard_sums] == [2, 1]
    assert combined.num_users == 3
    whole = _partial_sums(PREDICTIONS, TRUTH)
    for field in ("precision", "recall", "ndcg", "average_precision",
                  "average_precision_at_k"):
        assert getattr(combined, field) == pytest.approx(getattr(whole, field))
    _assert_metrics(metrics.finalize_ranking_metrics(combined),
                    EXPECTED_RANKING)


def test_sums_of_different_k_do_not_add():
    with pytest.raises(ValueError):
        metrics.RankingSums(k=3) + metrics.RankingSums(k=5)


# ---------------------------------------------------------------- rating


def test_rating_metrics_by_hand_on_inner_join():
    truth = pd.DataFrame(
        [(1, 1, 5.0), (1, 2, 3.0), (2, 1, 4.0), (2, 3, 1.0), (3, 3, 2.0)],
        columns=[USER_KEY, ITEM_KEY, LABEL_KEY])
    # (3, 1) and (1, 5) have no truth and (3, 3) no prediction: all dropped.
    predictions = pd.DataFrame(
        [(1, 1, 4.5), (1, 2, 2.5), (2, 1, 3.0), (2, 3, 2.0), (3, 1, 5.0),
         (1, 5, 1.0)],
        columns=[USER_KEY, ITEM_KEY, PRED])
    # y = [5, 3, 4, 1], y_hat = [4.5, 2.5, 3, 2], error = [.5, .5, 1, -1]
    # mse = (.25 + .25 + 1 + 1) / 4 = 10/16; mae = 3/4
    # var(y) = (1.75² + .25² + .75² + 2.25²) / 4 = 35/16
    # var(error) = mse - mean(error)² = 10/16 - 1/16 = 9/16
    expected = {
        "rmse": math.sqrt(10 / 16),
        "mae": 3 / 4,
        "rsquared": 1 - 10 / 35,
        "exp_var": 1 - 9 / 35,
    }
    _assert_metrics(metrics.rating_metrics(truth, predictions), expected)


def test_rating_metrics_with_prediction_column_named_like_the_label():
    truth = pd.DataFrame([(1, 1, 4.0), (1, 2, 2.0)],
                         columns=[USER_KEY, ITEM_KEY, LABEL_KEY])
    predictions = pd.DataFrame([(1, 1, 3.0), (1, 2, 3.0)],
                               columns=[USER_KEY, ITEM_KEY, LABEL_KEY])
    # error = [1, -1]; var(y) = 1; var(error) = 1 -> r² = 0, exp_var = 0
    actual = metrics.rating_metrics(truth, predictions, col_prediction=LABEL_KEY)
    _assert_metrics(actual, {"rmse": 1.0, "mae": 1.0, "rsquared": 0.0,
                             "exp_var": 0.0})


def test_rating_metrics_constant_truth_follows_sklearn():
    # var(y) = 0: perfect predictions score 1, others 0 (force_finite).
    assert metrics.rating_metrics_from_arrays([3, 3], [3, 3])["rsquared"] == 1.0
    assert metrics.rating_metrics_from_arrays([3, 3], [2, 4])["exp_var"] == 0.0


def test_rating_metrics_reject_empty_join():
    with pytest.raises(ValueError):
        metrics.rating_metrics_from_arrays([], [])
