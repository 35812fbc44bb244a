"""Evaluating a sample of users: recommender.pool.sample_users and
recommender.metrics.confidence_intervals, checked against hand-computed
per-user figures."""
import numpy as np
import pandas as pd
import pytest

from recommender import metrics, pool
import movielens_features as features

K = 2


def _terms(hits, n_relevant):
    """UserRankingTerms of users 0..n-1 whose top-2 lists hit `hits` items
    at ranks 1..hits (no AP details needed beyond that)."""
    hits = np.asarray(hits)
    n_relevant = np.asarray(n_relevant)
    dcg = np.array([sum(1 / np.log1p(r) for r in range(1, h + 1))
                    for h in hits])
    ap = np.array([sum((i + 1) / (i + 1) for i in range(h)) for h in hits],
                  dtype=np.float64)
    idcg = np.array([sum(1 / np.log1p(r) for r in range(1, min(n, K) + 1))
                     for n in n_relevant])
    return metrics.UserRankingTerms(
        user_ids=np.arange(hits.size), n_relevant=n_relevant, hits=hits,
        dcg=dcg, idcg=idcg, ap_numerator=ap, k=K)


HITS, RELEVANT = [0, 1, 2, 1, 0, 2], [1, 2, 2, 3, 4, 2]


def test_interval_is_the_normal_one_with_finite_population_correction():
    sums = metrics.sum_user_terms(_terms(HITS, RELEVANT))
    precision = np.array(HITS) / K
    n, population = len(HITS), 40
    half = 1.96 * precision.std(ddof=1) / np.sqrt(n) * np.sqrt(
        (population - n) / (population - 1))
    low, high = metrics.confidence_intervals(sums, population)["precision@k"]
    assert low == pytest.approx(precision.mean() - half)
    assert high == pytest.approx(precision.mean() + half)
    ndcg = np.array([d / i for d, i in zip(_terms(HITS, RELEVANT).dcg,
                                           _terms(HITS, RELEVANT).idcg)])
    half = 1.96 * ndcg.std(ddof=1) / np.sqrt(n) * np.sqrt(
        (population - n) / (population - 1))
    low, high = metrics.confidence_intervals(sums, population)["ndcg@k"]
    assert (low, high) == pytest.approx((max(ndcg.mean() - half, 0.0),
                                         min(ndcg.mean() + half, 1.0)))


def test_sums_of_shards_give_the_interval_of_all_users():
    whole = metrics.sum_user_terms(_terms(HITS, RELEVANT))
    parts = (metrics.sum_user_terms(_terms(HITS[:2], RELEVANT[:2]))
             + metrics.sum_user_terms(_terms(HITS[2:], RELEVANT[2:])))
    assert parts.squares == pytest.approx(whole.squares)
    split, joined = (metrics.confidence_intervals(sums, 10)
                     for sums in (parts, whole))
    for name in metrics.RANKING_METRIC_NAMES:
        assert split[name] == pytest.approx(joined[name])


def test_a_sample_of_every_user_has_no_uncertainty():
    sums = metrics.sum_user_terms(_terms(HITS, RELEVANT))
    means = metrics.finalize_ranking_metrics(sums)
    for name, (low, high) in metrics.confidence_intervals(
            sums, len(HITS)).items():
        assert low == pytest.approx(means[name])
        assert high == pytest.approx(means[name])
    with pytest.raises(ValueError, match="6 users cannot come from 5"):
        metrics.confidence_intervals(sums, 5)


def _frames():
    train = pd.DataFrame({features.USER_KEY: [1, 1, 2, 3, 4, 5, 5, 6],
                          features.ITEM_KEY: [10, 11, 10, 12, 13, 10, 14, 15]})
    eval_ = pd.DataFrame({features.USER_KEY: [1, 2, 3, 7],
                          features.ITEM_KEY: [12, 11, 10, 10]})
    return train, eval_


def test_sample_users_keeps_every_row_of_a_seeded_sample():
    train, eval_ = _frames()
    sampled_train, sampled_eval = pool.sample_users(train, eval_, 3, seed=4)
    users = pool.all_users(sampled_train, sampled_eval)
    assert users.size == 3
    assert set(users) <= set(pool.all_users(train, eval_))
    for sampled, full in ((sampled_train, train), (sampled_eval, eval_)):
        pd.testing.assert_frame_equal(
            sampled, full[full[features.USER_KEY].isin(users)])
    again = pool.sample_users(train, eval_, 3, seed=4)
    pd.testing.assert_frame_equal(again[0], sampled_train)
    other = [set(pool.all_users(*pool.sample_users(train, eval_, 3, seed)))
             for seed in range(10)]
    assert len({frozenset(users) for users in other}) > 1


def test_no_sample_or_one_of_everyone_is_the_whole_data():
    train, eval_ = _frames()
    for count in (0, 7, 100):
        sampled_train, sampled_eval = pool.sample_users(train, eval_, count,
                                                        seed=1)
        pd.testing.assert_frame_equal(sampled_train, train)
        pd.testing.assert_frame_equal(sampled_eval, eval_)
    with pytest.raises(ValueError, match="got -1"):
        pool.sample_users(train, eval_, -1, seed=1)
