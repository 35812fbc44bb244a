"""preprocessing_fn through tf.Transform (Beam DirectRunner, in-process).

The raw data is fed with the metadata the curated schema gives, so the
tensors match what TFXIO hands Transform in the pipeline: ids, rating and
timestamp dense [batch, 1], genres a varlen sparse feature ([] = empty cell).
The ranking objective's rows are the NegativeSampler's: the same columns plus
an int64 `label`, with rating 0.0 on the sampled negatives.
"""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata
from tfx.components.transform import executor_utils

import movielens_features as features

from trainer_module import preprocessing

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), os.pardir, "pipeline",
                           "schema", "schema.pbtxt")

USER_XF = features.transformed_name(features.USER_KEY)
ITEM_XF = features.transformed_name(features.ITEM_KEY)
GENRES_XF = features.transformed_name(features.GENRES_KEY)
RATING_XF = features.transformed_name(features.LABEL_KEY)
WIDTH = len(features.GENRES)


def _slot(name):
    return features.GENRES.index(name)


# (user_id, item_id, rating, genres); genres None = empty CSV cell (no value).
ROWS = [
    (7, 50, 5.0, "Action|Comedy"),
    (7, 50, 4.0, "Action|Comedy"),
    (7, 200, 3.5, None),
    (3, 200, 1.0, "Bollywood"),        # not a MovieLens genre
    (3, 1, 2.5, "Drama|Drama"),        # duplicated genre
    (12, 1, 0.5, "Sci-Fi|War"),
    (12, 1000, 4.5, ""),               # an explicit empty string
    (9, 1000, 3.0, "unknown"),         # MovieLens 100K's genre "unknown"
    (100, 2, 2.0, "Action|Bollywood"),
]

# TFT orders a vocabulary by descending frequency, ties by descending value
# as bytes (the ids are vocabularised as strings):
#   users: 7 x3; then 3 x2 and 12 x2 -> b"3" > b"12"; then 9 x1 and 100 x1
#          -> b"9" > b"100".
EXPECTED_USER_VOCAB = [b"7", b"3", b"12", b"9", b"100"]
#   items: 50, 200, 1, 1000 x2 each -> b"50" > b"200" > b"1000" > b"1";
#          then 2 x1.
EXPECTED_ITEM_VOCAB = [b"50", b"200", b"1000", b"1", b"2"]
USER_INDEX = {int(v): i for i, v in enumerate(EXPECTED_USER_VOCAB)}
ITEM_INDEX = {int(v): i for i, v in enumerate(EXPECTED_ITEM_VOCAB)}


def _multi_hot(*names):
    row = np.zeros(WIDTH, np.float32)
    for name in names:
        row[_slot(name)] = 1.0
    return row


EXPECTED_GENRES = [
    _multi_hot("Action", "Comedy"),
    _multi_hot("Action", "Comedy"),
    _multi_hot(),
    _multi_hot(),
    _multi_hot("Drama"),
    _multi_hot("Sci-Fi", "War"),
    _multi_hot(),
    _multi_hot("unknown"),
    _multi_hot("Action"),
]


def raw_metadata():
    with open(SCHEMA_PATH) as f:
        schema = text_format.Parse(f.read(), schema_pb2.Schema())
    return dataset_metadata.DatasetMetadata(schema)


def instance(user, item, rating, genres, timestamp=874965758):
    return {features.USER_KEY: [user], features.ITEM_KEY: [item],
            features.LABEL_KEY: [rating], features.TIMESTAMP_KEY: [timestamp],
            features.GENRES_KEY: [] if genres is None else [genres]}


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    """(transformed rows, transformed metadata, transform_fn, output dir)."""
    root = tmp_path_factory.mktemp("transform")
    output_dir = str(root / "transform_output")
    raw = [instance(*row) for row in ROWS]
    with tft_beam.Context(temp_dir=str(root / "tmp")):
        (transformed, transformed_metadata), transform_fn = (
            (raw, raw_metadata())
            | tft_beam.AnalyzeAndTransformDataset(
                preprocessing.preprocessing_fn))
        _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
    return transformed, transformed_metadata, transform_fn, output_dir, root


def test_vocabulary_indices(analyzed):
    transformed = analyzed[0]
    assert len(transformed) == len(ROWS)
    assert [int(r[USER_XF]) for r in transformed] == [
        USER_INDEX[row[0]] for row in ROWS]
    assert [int(r[ITEM_XF]) for r in transformed] == [
        ITEM_INDEX[row[1]] for row in ROWS]
    # Spelled out: users 7,7,7,3,3,12,12,9,100; items 50,50,200,200,1,1,
    # 1000,1000,2.
    assert [int(r[USER_XF]) for r in transformed] == [0, 0, 0, 1, 1, 2, 2, 3, 4]
    assert [int(r[ITEM_XF]) for r in transformed] == [0, 0, 1, 1, 3, 3, 2, 2, 4]


def test_multi_hot_genres(analyzed):
    transformed = analyzed[0]
    for row, raw, expected in zip(transformed, ROWS, EXPECTED_GENRES):
        genres = np.asarray(row[GENRES_XF])
        assert genres.dtype == np.float32
        assert genres.shape == (WIDTH,), raw
        np.testing.assert_array_equal(genres, expected, err_msg=str(raw))
    # The duplicated genre is 1, not 2.
    assert transformed[4][GENRES_XF].max() == 1.0
    assert WIDTH == 20


def test_rating_passes_through_as_float(analyzed):
    transformed, transformed_metadata = analyzed[0], analyzed[1]
    # Instance dicts carry scalars as Python/numpy numbers; the dtype is in
    # the transformed schema (and the feature spec, test_vocabulary_files).
    rating = next(f for f in transformed_metadata.schema.feature
                  if f.name == RATING_XF)
    assert rating.type == schema_pb2.FLOAT
    ratings = [r[RATING_XF] for r in transformed]
    assert all(isinstance(r, (float, np.floating)) for r in ratings)
    assert ratings == [row[2] for row in ROWS]


def test_output_features_and_metadata(analyzed):
    transformed, transformed_metadata = analyzed[0], analyzed[1]
    assert set(transformed[0]) == {USER_XF, ITEM_XF, GENRES_XF, RATING_XF}
    spec = transformed_metadata.schema
    shapes = {f.name: [d.size for d in f.shape.dim] for f in spec.feature}
    assert shapes == {USER_XF: [], ITEM_XF: [], RATING_XF: [],
                      GENRES_XF: [WIDTH]}


def test_vocabulary_files(analyzed):
    output = tft.TFTransformOutput(analyzed[3])
    assert output.vocabulary_by_name(features.USER_VOCAB_NAME) == \
        EXPECTED_USER_VOCAB
    assert output.vocabulary_by_name(features.ITEM_VOCAB_NAME) == \
        EXPECTED_ITEM_VOCAB
    assert output.vocabulary_size_by_name(features.USER_VOCAB_NAME) == 5
    assert output.vocabulary_size_by_name(features.ITEM_VOCAB_NAME) == 5
    feature_spec = output.transformed_feature_spec()
    assert feature_spec[GENRES_XF].shape == [WIDTH]
    assert feature_spec[USER_XF].dtype == tf.int64
    assert feature_spec[ITEM_XF].dtype == tf.int64
    assert feature_spec[RATING_XF].dtype == tf.float32
    assert feature_spec[GENRES_XF].dtype == tf.float32


def test_unseen_ids_map_to_the_oov_bucket(analyzed):
    _, _, transform_fn, _, root = analyzed
    new_rows = [
        (999, 50, 4.0, "Action"),      # unseen user, known item
        (7, 77, 3.0, None),            # known user, unseen item
        (8, 6, 1.5, "Comedy|Crime"),   # both unseen
        (12, 2, 2.0, "Western"),
    ]
    with tft_beam.Context(temp_dir=str(root / "tmp_transform")):
        transformed, _ = (
            ([instance(*row) for row in new_rows], raw_metadata()),
            transform_fn) | tft_beam.TransformDataset()
    oov_user = len(EXPECTED_USER_VOCAB)
    oov_item = len(EXPECTED_ITEM_VOCAB)
    assert features.NUM_OOV_BUCKETS == 1
    assert [int(r[USER_XF]) for r in transformed] == [oov_user, 0, oov_user, 2]
    assert [int(r[ITEM_XF]) for r in transformed] == [0, oov_item, oov_item, 4]
    assert oov_user == 5 and oov_item == 5
    assert all(int(r[USER_XF]) >= 0 and int(r[ITEM_XF]) >= 0
               for r in transformed)
    np.testing.assert_array_equal(transformed[0][GENRES_XF],
                                  _multi_hot("Action"))
    np.testing.assert_array_equal(transformed[1][GENRES_XF], _multi_hot())
    np.testing.assert_array_equal(transformed[2][GENRES_XF],
                                  _multi_hot("Comedy", "Crime"))
    np.testing.assert_array_equal(transformed[3][GENRES_XF],
                                  _multi_hot("Western"))


def test_multi_hot_genres_eagerly():
    # The helper on its own, on a dense [batch] string tensor.
    result = preprocessing.multi_hot_genres(tf.constant(
        ["Action|Comedy", "", "Bollywood", "Drama|Drama", "Western|Action"]))
    np.testing.assert_array_equal(result.numpy(), np.stack([
        _multi_hot("Action", "Comedy"), _multi_hot(), _multi_hot(),
        _multi_hot("Drama"), _multi_hot("Action", "Western")]))


# The NegativeSampler's rows: (user, item, rating, genres, label); negatives
# have rating 0.0 and label 0, whatever the item's genres.
SAMPLED_ROWS = [
    (7, 50, 5.0, "Action|Comedy", 1),
    (7, 200, 0.0, None, 0),
    (7, 1, 0.0, "Drama", 0),
    (3, 200, 0.5, None, 1),             # the lowest real rating is positive
    (3, 50, 0.0, "Action|Comedy", 0),
    (12, 1, 2.5, "Drama", 1),
]
# The pipeline's Transform custom_config today: only the code fingerprint.
FINGERPRINT_ONLY = {"code_fingerprint": "0123abcd"}


def sampled_metadata():
    """The curated schema plus the sampler's int64 `label` column."""
    schema = raw_metadata().schema
    schema.feature.add(name=features.SAMPLED_LABEL_KEY, type=schema_pb2.INT)
    schema.feature[-1].shape.dim.add(size=1)
    schema.feature[-1].presence.min_fraction = 1.0
    representation = schema.tensor_representation_group[""] \
        .tensor_representation[features.SAMPLED_LABEL_KEY]
    representation.dense_tensor.column_name = features.SAMPLED_LABEL_KEY
    representation.dense_tensor.shape.dim.add(size=1)
    return dataset_metadata.DatasetMetadata(schema)


def sampled_instance(user, item, rating, genres, label):
    row = instance(user, item, rating, genres)
    row[features.SAMPLED_LABEL_KEY] = [label]
    return row


def _transform_sampled(root, custom_config):
    """SAMPLED_ROWS through preprocessing_fn bound to custom_config the way
    TFX 1.15's Transform executor binds it (from its JSON exec property)."""
    fn = executor_utils.MaybeBindCustomConfig(
        {"custom_config": json.dumps(custom_config)},
        preprocessing.preprocessing_fn)
    with tft_beam.Context(temp_dir=str(root)):
        (transformed, _), _ = (
            ([sampled_instance(*row) for row in SAMPLED_ROWS],
             sampled_metadata())
            | tft_beam.AnalyzeAndTransformDataset(fn))
    return transformed


@pytest.fixture(scope="module", params=["ranking", "fingerprint_only"])
def sampled(request, tmp_path_factory):
    """(custom_config name, transformed SAMPLED_ROWS)."""
    config = ({preprocessing.OBJECTIVE_KEY: features.RANKING_OBJECTIVE,
               **FINGERPRINT_ONLY} if request.param == "ranking"
              else FINGERPRINT_ONLY)
    return request.param, _transform_sampled(
        tmp_path_factory.mktemp("sampled"), config)


def test_label_per_objective_on_the_samplers_rows(sampled):
    name, transformed = sampled
    labels = [r[RATING_XF] for r in transformed]
    assert all(isinstance(v, (float, np.floating)) for v in labels)
    if name == "ranking":
        # 1.0 for each rated pair (rating >= 0.5), 0.0 for each negative.
        assert labels == [1.0, 0.0, 0.0, 1.0, 0.0, 1.0]
    else:
        # No objective in custom_config: rating, the rating passed through.
        assert labels == [5.0, 0.0, 0.0, 0.5, 0.0, 2.5]


def test_samplers_label_column_is_not_a_model_feature(sampled):
    # Same outputs, label under the same name, for both objectives; the
    # sampler's `label` column is dropped.
    _, transformed = sampled
    assert set(transformed[0]) == {USER_XF, ITEM_XF, GENRES_XF, RATING_XF}
    # users 7 x3, 3 x2, 12 x1; items 50 x2, 200 x2, 1 x2 -> b"50" > b"200" >
    # b"1".
    assert [int(r[USER_XF]) for r in transformed] == [0, 0, 0, 1, 1, 2]
    assert [int(r[ITEM_XF]) for r in transformed] == [0, 1, 2, 1, 0, 2]


@pytest.mark.parametrize("custom_config, objective", [
    (None, "rating"),
    ({}, "rating"),
    (FINGERPRINT_ONLY, "rating"),
    ({"objective": "rating"}, "rating"),
    ({"objective": "ranking", **FINGERPRINT_ONLY}, "ranking"),
])
def test_objective_from_custom_config(custom_config, objective):
    assert preprocessing.OBJECTIVE_KEY == "objective"
    assert preprocessing.objective_from(custom_config).name == objective


def test_tfx_binds_custom_config_to_preprocessing_fn():
    # TFX 1.15 passes custom_config only to a preprocessing_fn declaring it;
    # a JSON null arrives as {}.
    bound = executor_utils.MaybeBindCustomConfig(
        {"custom_config": json.dumps({"objective": "ranking"})},
        preprocessing.preprocessing_fn)
    assert bound.keywords == {"custom_config": {"objective": "ranking"}}
    bound = executor_utils.MaybeBindCustomConfig(
        {"custom_config": "null"}, preprocessing.preprocessing_fn)
    assert bound.keywords == {"custom_config": {}}


def test_unknown_objective_raises_before_any_tensor_is_read():
    with pytest.raises(ValueError) as error:
        preprocessing.preprocessing_fn({}, {"objective": "pairwise"})
    assert str(error.value) == (
        "custom_config['objective'] must be one of ['rating', 'ranking'], "
        "got 'pairwise'")
