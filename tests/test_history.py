"""The user-history feature (trainer_module/history.py): the table of each
user's train movies and the feature a row gets from it, its own movie left
out."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import estimator as tf_estimator

from trainer_module import objectives
import movielens_features as features
from trainer_module import history, model
from trainer_module.hparams import HParams


def test_table_holds_each_users_unique_items_sorted_and_empty_rows():
    table = history.build_user_history(
        user_xf=[2, 0, 2, 2, 0], item_xf=[5, 3, 1, 5, 4], num_users=4)
    assert table.row_splits.tolist() == [0, 2, 2, 4, 4]
    assert table.items.tolist() == [3, 4, 1, 5]


def test_table_refuses_a_user_outside_the_vocabulary():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        history.build_user_history([0, 3], [1, 1], num_users=3)


def test_row_gets_its_users_items_but_its_own():
    table = history.build_user_history([0, 0, 0, 1], [3, 4, 7, 2],
                                       num_users=3)
    rows = history.add_history(
        {history.USER_XF: tf.constant([0, 0, 1, 2], tf.int64),
         history.ITEM_XF: tf.constant([4, 9, 2, 2], tf.int64)}, table)
    bag = tf.sparse.to_dense(rows[features.USER_HISTORY_XF],
                             default_value=-1).numpy()
    # user 0 scoring item 4 (rated): 3 and 7; item 9 (unrated): all three;
    # user 1 scoring its only item: nothing; user 2 (no history): nothing.
    assert bag.tolist() == [[3, 7, -1], [3, 4, 7], [-1, -1, -1],
                            [-1, -1, -1]]
    assert rows[history.USER_XF].numpy().tolist() == [0, 0, 1, 2]


def test_rated_matrix_refuses_an_item_outside_the_catalog():
    table = history.build_user_history([0, 1], [1, 2], num_users=2)
    with pytest.raises(ValueError, match="must be < 2"):
        history.rated_sparse(table, num_items=2)


def test_history_embedding_is_in_the_deep_part_only_when_on():
    def deep_names(params):
        return [column.name for column in
                model.feature_columns(params, num_users=5, num_items=9)[1]]
    assert not any("history" in name for name in deep_names(HParams()))
    assert not HParams().uses_history
    on = HParams(history_embedding_dim=8, user_embedding_dim=0)
    names = deep_names(on)
    assert any(features.USER_HISTORY_XF in name for name in names)
    assert not any(features.transformed_name(features.USER_KEY) in name
                   for name in names)
    assert on.uses_history


@pytest.mark.parametrize("values,message", [
    ({"user_embedding_dim": 0}, "know nothing of the user"),
    ({"history_embedding_dim": -1}, "history_embedding_dim must be >= 0"),
    ({"user_embedding_dim": -2, "history_embedding_dim": 4},
     "user_embedding_dim must be >= 0"),
])
def test_embedding_sizes_are_validated(values, message):
    with pytest.raises(ValueError, match=message):
        HParams(**values)


@pytest.mark.parametrize("history_embedding_dim,item_ease_feature", [
    (4, False),  # the history embedding alone
    (0, True),  # the EASE score alone
])
def test_ranking_model_learns_from_the_history_of_similar_users(
        tmp_path, history_embedding_dim, item_ease_feature):
    """Users 0-2 rated movies 1, 2 and 3; user 3 rated 1 and 2; users 4-9
    rated 4 and 5, so movie 4 is twice as popular as movie 3. User 3 has no
    embedding, and (3, 3) and (3, 4) are never trained on: only the history
    (movies 1 and 2, as users 0-2) can rank movie 3 above the more popular
    movie 4."""
    positives = [(u, i) for u in range(3) for i in (1, 2, 3)] + [
        (3, 1), (3, 2)] + [(u, i) for u in range(4, 10) for i in (4, 5)]
    table = history.build_user_history(*zip(*positives), num_users=11)
    if item_ease_feature:
        table = history.with_ease(table, num_items=7, l2=1.0)
    rated = set(positives)
    negatives = [(u, i) for u in range(10) for i in range(1, 6)
                 if (u, i) not in rated and (u, i) not in {(3, 3), (3, 4)}]
    rows = positives * 20 + negatives * 20
    users, items = (np.array(column, np.int64) for column in zip(*rows))
    labels = np.array([1.0] * (len(positives) * 20) + [0.0] * (
        len(negatives) * 20), np.float32)[:, None]
    params = dataclasses.replace(
        objectives.RANKING.default_hparams(), user_embedding_dim=0,
        history_embedding_dim=history_embedding_dim, batch_size=32,
        random_seed=1, item_ease_feature=item_ease_feature,
        # The features alone, not the served blend with EASE.
        ease_blend_weight=0.0)

    def input_fn(users, items, labels=None):
        def to_features(user, item, *label):
            columns = history.add_history(
                {history.USER_XF: user, history.ITEM_XF: item,
                 features.transformed_name(features.GENRES_KEY): tf.zeros(
                     [tf.shape(user)[0], len(features.GENRES)])}, table)
            return (columns, label[0]) if label else columns
        data = (users, items) + ((labels,) if labels is not None else ())
        dataset = tf.data.Dataset.from_tensor_slices(data)
        if labels is not None:
            dataset = dataset.shuffle(len(users), seed=1).repeat()
        return dataset.batch(32).map(to_features)

    estimator = model.build_estimator(
        params, num_users=11, num_items=7,
        config=tf_estimator.RunConfig(model_dir=str(tmp_path),
                                      tf_random_seed=1))
    estimator.train(lambda: input_fn(users, items, labels), steps=400)
    scores = [batch["logits"][0] for batch in estimator.predict(
        lambda: input_fn(np.array([3, 3], np.int64),
                         np.array([3, 4], np.int64)))]
    assert scores[0] > scores[1]


def ease_scores(table, users, items):
    rows = history.add_history(
        {history.USER_XF: tf.constant(users, tf.int64),
         history.ITEM_XF: tf.constant(items, tf.int64)}, table)
    return rows[features.ITEM_EASE_XF].numpy()[:, 0]


def ease_by_hand(pairs, num_users, num_items, l2, user, item):
    """EASE fitted without the user's row: B = I - P diag(1 / diag(P))
    off the diagonal, the score the sum of B(j, item) over the user's
    other items."""
    rated = np.zeros((num_users, num_items))
    for u, i in pairs:
        rated[u, i] = 1.0
    others = rated[user].copy()
    others[item] = 0.0
    rated[user] = 0.0
    inverse = np.linalg.inv(rated.T @ rated + l2 * np.eye(num_items))
    weights = -inverse / np.diag(inverse)
    return others @ weights[:, item]


@pytest.mark.parametrize("l2", [0.5, 3.0])
def test_ease_score_is_eases_fitted_without_the_users_row(l2):
    """Rated and unrated candidates alike; a movie no one rated (5) and a
    user with no history (6) score 0."""
    pairs = [(u, i) for u in range(6) for i in range(5) if (u * 7 + i) % 3]
    table = history.with_ease(
        history.build_user_history(*zip(*pairs), num_users=7), 6, l2)
    queries = [(0, 1), (0, 0), (2, 3), (2, 4), (4, 0), (5, 5), (6, 2)]
    expected = [ease_by_hand(pairs, 7, 6, l2, u, i) for u, i in queries]
    assert expected[-2:] == [0.0, 0.0]
    assert min(map(abs, expected[:-2])) > 1e-3
    np.testing.assert_allclose(
        ease_scores(table, *zip(*queries)), expected, rtol=1e-4, atol=1e-6)


def test_ease_feature_is_wide_and_deep_only_when_on():
    def names(params):
        wide, deep = model.feature_columns(params, num_users=5, num_items=9)
        return [c.name for c in wide], [c.name for c in deep]
    assert not any(features.ITEM_EASE_XF in n for n in sum(names(HParams()),
                                                           []))
    wide, deep = names(HParams(item_ease_feature=True))
    assert features.ITEM_EASE_XF in wide and features.ITEM_EASE_XF in deep
    assert HParams(item_ease_feature=True, user_embedding_dim=0).uses_history
    with pytest.raises(ValueError, match="ease_l2 must be positive"):
        HParams(item_ease_feature=True, ease_l2=0.0)


@pytest.mark.parametrize("block_entries", [1 << 23, 7])
def test_sparse_ease_equals_a_dense_ease_by_hand(monkeypatch, block_entries):
    """rated_sparse, ease_inverse, quadratic_forms, with_ease and the
    score against numpy on the dense users x items matrix; block_entries 7
    computes the Gram and the mirror one item row at a time. Item 5 has no
    user, user 6 no item."""
    monkeypatch.setattr(history, "_BLOCK_ENTRIES", block_entries)
    pairs = [(u, i) for u in range(6) for i in range(5) if (u * 7 + i) % 3]
    pairs += [(0, 0), (3, 1)]  # a repeated pair counts once
    num_users, num_items, l2 = 7, 6, 0.75
    rated = np.zeros((num_users, num_items))
    for u, i in pairs:
        rated[u, i] = 1.0
    inverse = np.linalg.inv(rated.T @ rated + l2 * np.eye(num_items))
    own = np.array([row @ inverse @ row for row in rated])
    assert own[-1] == 0.0 and own.min(initial=1.0, where=own > 0) > 0.1

    table = history.build_user_history(*zip(*pairs), num_users=num_users)
    sparse = history.rated_sparse(table, num_items)
    np.testing.assert_array_equal(sparse.toarray(), rated)
    sparse_inverse = history.ease_inverse(sparse, l2)
    assert sparse_inverse.dtype == np.float64
    np.testing.assert_allclose(sparse_inverse, inverse, rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_allclose(history.quadratic_forms(sparse, inverse), own,
                               rtol=1e-12, atol=1e-15)

    eased = history.with_ease(table, num_items, l2)
    assert eased.ease_inverse.dtype == eased.ease_self.dtype == np.float32
    np.testing.assert_allclose(eased.ease_inverse, inverse, rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(eased.ease_self, own, rtol=1e-6)
    queries = [(0, 0), (0, 3), (1, 2), (3, 1), (4, 4), (5, 0), (6, 1)]
    np.testing.assert_allclose(
        ease_scores(eased, *zip(*queries)),
        [ease_by_hand(pairs, num_users, num_items, l2, u, i)
         for u, i in queries], rtol=1e-4, atol=1e-6)


def test_ease_inverse_needs_a_positive_l2():
    table = history.build_user_history([0, 1], [1, 0], num_users=2)
    with pytest.raises(ValueError, match="l2 must be positive"):
        history.ease_inverse(history.rated_sparse(table, 2), 0.0)
