"""trainer_module/negatives.py: the ranking Trainer's in-graph negatives.

What a user relies on: a negative is never one of the user's train movies,
every other catalog movie is drawn equally often, the same seed gives the
same negatives, and a negative row is the positive's user with the sampled
movie's own genres and label 0.
"""
import numpy as np
import pytest
import tensorflow as tf

import movielens_features as features

from trainer_module import history, negatives

CATALOG = 12
GENRES = len(features.GENRES)
# User 0 rated 0, 3, 4 and 11; user 1 nothing; user 2 every item but 5;
# user 3 every item.
RATED = {0: [0, 3, 4, 11], 1: [], 2: [i for i in range(CATALOG) if i != 5],
         3: list(range(CATALOG))}


def _table() -> negatives.NegativeTable:
    users = [u for u, items in RATED.items() for _ in items]
    items = [i for items in RATED.values() for i in items]
    genres = np.zeros((CATALOG, GENRES), np.float32)
    genres[np.arange(CATALOG), np.arange(CATALOG) % GENRES] = 1.0
    genres[7, 1] = 1.0  # item 7 has two genres
    return negatives.build_negative_table(
        history.build_user_history(users, items, len(RATED)), CATALOG,
        genres)


def _tensors(table):
    return negatives._Tensors(tf.constant(table.adjusted_keys),
                              tf.constant(table.row_splits),
                              tf.constant(table.item_genres))


def _draw(users, count, seed):
    table = _table()
    items, valid = negatives.sample_items(
        tf.constant(users, tf.int64), count, _tensors(table), CATALOG,
        tf.constant(seed, tf.int64))
    return items.numpy(), valid.numpy()


def test_draws_are_uniform_over_the_movies_the_user_did_not_rate():
    draws = 24_000
    items, valid = _draw([0], draws, [7, 1])
    assert valid.all()
    allowed = sorted(set(range(CATALOG)) - set(RATED[0]))
    counts = np.bincount(items, minlength=CATALOG)
    assert counts[RATED[0]].sum() == 0
    assert sorted(np.flatnonzero(counts)) == allowed
    # 3,000 expected each; 5 standard deviations of a binomial is ~260.
    expected = draws / len(allowed)
    assert np.abs(counts[allowed] - expected).max() < 5 * np.sqrt(expected)


def test_no_train_movie_is_ever_drawn_and_the_last_free_movie_always_is():
    items, valid = _draw([0, 1, 2] * 50, 40, [3, 9])
    users = np.repeat([0, 1, 2] * 50, 40)
    assert valid.all()
    for user in (0, 1, 2):
        drawn = set(items[users == user].tolist())
        assert not drawn & set(RATED[user])
        assert drawn <= set(range(CATALOG))
    assert set(items[users == 2].tolist()) == {5}
    assert set(items[users == 1].tolist()) == set(range(CATALOG))


def test_a_user_who_rated_every_movie_gets_no_negative():
    _, valid = _draw([3, 0, 3], 2, [1, 1])
    assert valid.tolist() == [False, False, True, True, False, False]


def test_same_seed_same_negatives_other_seed_others():
    first, _ = _draw([0, 1, 2], 30, [5, 0])
    again, _ = _draw([0, 1, 2], 30, [5, 0])
    other, _ = _draw([0, 1, 2], 30, [5, 1])
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


def _positives():
    genres = np.zeros((2, GENRES), np.float32)
    genres[0, 4] = genres[1, 6] = 1.0
    columns = {
        negatives.USER_XF: tf.constant([0, 2], tf.int64),
        negatives.ITEM_XF: tf.constant([3, 8], tf.int64),
        negatives.GENRES_XF: tf.constant(genres),
    }
    return columns, tf.constant([1.0, 1.0])


def test_a_batch_gets_its_negatives_with_their_own_genres_and_label_zero():
    table = _table()
    columns, labels = _positives()
    merged, merged_labels = negatives.add_negatives(
        columns, labels, 3, _tensors(table), CATALOG,
        tf.constant([4, 2], tf.int64))
    users = merged[negatives.USER_XF].numpy()
    items = merged[negatives.ITEM_XF].numpy()
    # The positives first, unchanged; then 3 negatives of each, in order.
    assert users.tolist() == [0, 2, 0, 0, 0, 2, 2, 2]
    assert items[:2].tolist() == [3, 8]
    assert merged_labels.numpy().tolist() == [1, 1, 0, 0, 0, 0, 0, 0]
    assert items[5:].tolist() == [5, 5, 5]  # user 2's only free movie
    assert not set(items[2:5].tolist()) & set(RATED[0])
    genres = merged[negatives.GENRES_XF].numpy()
    np.testing.assert_array_equal(genres[:2], columns[negatives.GENRES_XF])
    np.testing.assert_array_equal(genres[2:], table.item_genres[items[2:]])


def test_a_user_with_every_movie_keeps_the_positive_and_gets_no_negative():
    table = _table()
    columns, labels = _positives()
    columns[negatives.USER_XF] = tf.constant([3, 1], tf.int64)
    merged, merged_labels = negatives.add_negatives(
        columns, labels, 2, _tensors(table), CATALOG,
        tf.constant([1, 1], tf.int64))
    assert merged[negatives.USER_XF].numpy().tolist() == [3, 1, 1, 1]
    assert merged_labels.numpy().tolist() == [1, 1, 0, 0]


def test_an_unknown_feature_is_refused_by_name():
    table = _table()
    columns, labels = _positives()
    columns["age_xf"] = tf.constant([30, 40])
    with pytest.raises(ValueError, match=r"\['age_xf'\]"):
        negatives.add_negatives(columns, labels, 2, _tensors(table), CATALOG,
                                tf.constant([1, 1], tf.int64))


def test_with_negatives_seeds_each_batch_and_repeats_for_the_same_seed():
    table = _table()
    columns, labels = _positives()
    batches = tf.data.Dataset.from_tensors((columns, labels)).repeat(3)

    def items(seed):
        return [batch[0][negatives.ITEM_XF].numpy()[2:].tolist()
                for batch in negatives.with_negatives(batches, table, 4,
                                                      seed)]
    first = items(11)
    assert first == items(11)
    assert first != items(12)
    # Each batch draws afresh (user 0's negatives differ between batches).
    assert len({tuple(batch[:4]) for batch in first}) > 1


def test_the_table_refuses_items_outside_the_catalog():
    table = history.build_user_history([0], [CATALOG], 1)
    with pytest.raises(ValueError, match="outside the catalog of 12 items"):
        negatives.build_negative_table(
            table, CATALOG, np.zeros((CATALOG, GENRES), np.float32))
