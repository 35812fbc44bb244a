"""trainer_module.raw_examples: the raw tf.Example as every reader parses
it (its spec is the schema's: tests/test_schema.py)."""
import pytest
import tensorflow as tf

from topk_fixtures import make_example
import movielens_features as features
from trainer_module import raw_examples


def example(user: int, item: int, rating: float, genres=None) -> bytes:
    return make_example((user, item, rating, genres, 881250949)
                        ).SerializeToString()


def test_parse_gives_one_value_per_row_and_empty_genres():
    parsed = raw_examples.parse(
        tf.constant([example(3, 7, 4.5, b"Comedy|Drama"),
                     example(5, 9, 1.0)]), raw_examples.RATING_KEYS)
    assert sorted(parsed) == sorted(raw_examples.RATING_KEYS)
    assert parsed[features.USER_KEY].numpy().tolist() == [3, 5]
    assert parsed[features.ITEM_KEY].numpy().tolist() == [7, 9]
    assert parsed[features.LABEL_KEY].numpy().tolist() == [4.5, 1.0]
    assert parsed[features.GENRES_KEY].numpy().tolist() == [
        b"Comedy|Drama", b""]


def test_serving_keys_need_no_label():
    unlabeled = tf.train.Example()
    unlabeled.CopyFrom(tf.train.Example.FromString(example(3, 7, 4.5)))
    del unlabeled.features.feature[features.LABEL_KEY]
    parsed = raw_examples.parse(tf.constant([unlabeled.SerializeToString()]),
                                features.SERVING_FEATURE_KEYS)
    assert sorted(parsed) == sorted(features.SERVING_FEATURE_KEYS)
    with pytest.raises(tf.errors.InvalidArgumentError, match="rating"):
        raw_examples.parse(tf.constant([unlabeled.SerializeToString()]),
                           raw_examples.RATING_KEYS)


def test_unknown_column_is_refused_by_name():
    with pytest.raises(ValueError, match=r"no raw column \['score'\]"):
        raw_examples.feature_spec(["user_id", "score"])
