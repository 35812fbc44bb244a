"""The raw tf.Example (ExampleGen's output), as every reader parses it: the
served model's raw signature, the recommender's pandas reader and the
notebook baseline.

One feature spec, the curated schema's (pipeline/schema/schema.pbtxt;
tests/test_schema.py checks they agree): the ids, the rating and the
timestamp one value each; genres zero or one value, since CsvExampleGen
writes an empty cell as a feature with no value, which a FixedLenFeature
refuses. parse() gives every column as a [batch] tensor, genres "" where
there was none.
"""
from typing import Dict, Sequence, Union

import tensorflow as tf

import movielens_features as features

from trainer_module import preprocessing

FeatureSpec = Dict[str, Union[tf.io.FixedLenFeature, tf.io.VarLenFeature]]

_SPEC: FeatureSpec = {
    features.USER_KEY: tf.io.FixedLenFeature([], tf.int64),
    features.ITEM_KEY: tf.io.FixedLenFeature([], tf.int64),
    features.LABEL_KEY: tf.io.FixedLenFeature([], tf.float32),
    features.TIMESTAMP_KEY: tf.io.FixedLenFeature([], tf.int64),
    features.GENRES_KEY: tf.io.VarLenFeature(tf.string),
}
# What the readers of ratings read (no timestamp: no model input).
RATING_KEYS = (features.USER_KEY, features.ITEM_KEY, features.LABEL_KEY,
               features.GENRES_KEY)


def feature_spec(keys: Sequence[str] = features.CSV_COLUMNS) -> FeatureSpec:
    """The spec of `keys` (default: every column)."""
    unknown = sorted(set(keys) - set(_SPEC))
    if unknown:
        raise ValueError(f"no raw column {unknown}; the columns are "
                         f"{list(_SPEC)}")
    return {key: _SPEC[key] for key in keys}


def parse(serialized: tf.Tensor, keys: Sequence[str]
          ) -> Dict[str, tf.Tensor]:
    """Serialized raw tf.Examples -> {column: [batch] tensor} for `keys`;
    genres "" where the example has no value."""
    parsed = tf.io.parse_example(serialized, feature_spec(keys))
    if features.GENRES_KEY in parsed:
        parsed[features.GENRES_KEY] = preprocessing.dense_genre_strings(
            parsed[features.GENRES_KEY])
    return parsed
