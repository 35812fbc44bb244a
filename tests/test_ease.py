"""EASE as a plain ranker (recommender/ease.py): Steck's closed form against
numpy on a dense matrix, and a case whose answer is known."""
import numpy as np
import pandas as pd
import pytest

from recommender import ease, metrics, pool
from recommender.catalog import build_catalog
from trainer_module import history
from movielens_features import GENRES_KEY, ITEM_KEY, LABEL_KEY, USER_KEY
from trainer_module.hparams import HParams

# (user id, item column): sparse ids, a repeated pair, column 5 unrated,
# user 90 with a single item.
PAIRS = [(10, 0), (10, 1), (10, 3), (20, 1), (20, 2), (20, 3), (20, 4),
         (35, 0), (35, 2), (35, 4), (35, 0), (41, 1), (41, 4), (90, 2)]
NUM_ITEMS = 6


def dense_ease_by_hand(pairs, num_items, l2):
    """(X, B): the users x items 0/1 matrix (users in id order) and
    B = I - P diag(1 / diag(P)), P = (X'X + l2 I)^-1."""
    users = sorted({u for u, _ in pairs})
    rated = np.zeros((len(users), num_items))
    for u, i in pairs:
        rated[users.index(u), i] = 1.0
    inverse = np.linalg.inv(rated.T @ rated + l2 * np.eye(num_items))
    return rated, np.eye(num_items) - inverse / np.diag(inverse)


@pytest.mark.parametrize("l2", [0.5, 20.0])
def test_weights_and_scores_equal_a_dense_ease_by_hand(monkeypatch, l2):
    # Several blocks of rows in score_pairs, one item row per Gram band.
    monkeypatch.setattr(ease, "_MAX_DENSE_SCORES", 2 * NUM_ITEMS)
    monkeypatch.setattr(history, "_BLOCK_ENTRIES", NUM_ITEMS)
    rated, weights = dense_ease_by_hand(PAIRS, NUM_ITEMS, l2)
    assert np.allclose(np.diag(weights), 0.0)
    users, cols = (np.array(column) for column in zip(*PAIRS))
    fitted = ease.fit(users, cols, NUM_ITEMS, l2)
    assert fitted.dtype == np.float32
    assert np.all(np.diag(fitted) == 0.0)
    np.testing.assert_allclose(fitted, weights, rtol=1e-5, atol=1e-7)
    # Every (user, item) pair, in a shuffled order.
    rows, items = np.meshgrid(np.arange(len(rated)), np.arange(NUM_ITEMS),
                              indexing="ij")
    order = np.random.default_rng(0).permutation(rows.size)
    rows, items = rows.ravel()[order], items.ravel()[order]
    sparse = ease.rated_rows(*zip(*[(r, i) for r, row in enumerate(rated)
                                    for i in np.flatnonzero(row)]),
                             num_rows=len(rated), num_items=NUM_ITEMS)
    expected = (rated @ weights)[rows, items]
    assert np.abs(expected).max() > 0.05
    np.testing.assert_allclose(ease.score_pairs(fitted, sparse, rows, items),
                               expected, rtol=1e-5, atol=1e-6)
    # The unrated item scores 0 for everyone.
    assert not (rated @ weights)[:, 5].any()


def test_default_l2_is_the_ranking_models():
    assert ease.DEFAULT_L2 == HParams().ease_l2 == 300.0


def _frame(pairs):
    users, items = zip(*pairs)
    return pd.DataFrame({USER_KEY: np.array(users, np.int64),
                         ITEM_KEY: np.array(items, np.int64),
                         LABEL_KEY: np.ones(len(pairs), np.float32),
                         GENRES_KEY: np.array([b""] * len(pairs), object)})


def test_ease_ranks_the_co_rated_movie_first():
    """Users 1 and 2 rated movies 100 and 200; users 4-6 rated 300 and 400,
    so those are more popular than 200. User 3 rated 100 only: EASE ranks
    200, the movie co-rated with 100, first; popularity ranks 300."""
    train = _frame([(1, 100), (1, 200), (2, 100), (2, 200), (3, 100)]
                   + [(u, i) for u in (4, 5, 6) for i in (300, 400)])
    eval_ = _frame([(3, 200)])
    catalog = build_catalog(train, eval_)
    weights = ease.fit(train[USER_KEY].to_numpy(),
                       np.searchsorted(catalog.item_ids,
                                       train[ITEM_KEY].to_numpy()),
                       len(catalog.item_ids), l2=1.0)
    [shard] = pool.make_shards(train, eval_, catalog)
    users, cols = pool.candidate_pairs(shard, len(catalog.item_ids))
    scores = ease.shard_scores(weights, shard, users, cols)
    mine = users == 3
    top = metrics.top_k_per_user(users[mine], catalog.item_ids[cols[mine]],
                                 scores[mine], k=1)
    assert top.item_ids.tolist() == [200]
    popular = metrics.top_k_per_user(
        users[mine], catalog.item_ids[cols[mine]],
        catalog.train_counts[cols[mine]].astype(np.float64), k=1)
    assert popular.item_ids.tolist() == [300]
    # Candidates 200, 300, 400: the two never co-rated with 100 score 0.
    assert catalog.item_ids[cols[mine]].tolist() == [200, 300, 400]
    assert scores[mine][0] > 0.1
    np.testing.assert_allclose(scores[mine][1:], 0.0, atol=1e-12)
