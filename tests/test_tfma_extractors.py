"""trainer_module.tfma_extractors: the per-genre slice feature."""
import copy

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma

import movielens_features as features
from trainer_module.tfma_extractors import (add_genre_slice_feature,
                                           custom_extractors, genre_values)


def _as_list(array):
    assert isinstance(array, np.ndarray)
    assert array.dtype == object
    return array.tolist()


def test_genre_values_splits_bytes_arrays():
    assert _as_list(genre_values(np.array([b"Action|Comedy"], dtype=object))) \
        == [b"Action", b"Comedy"]
    assert _as_list(genre_values(np.array([[b"Drama"]], dtype=object))) \
        == [b"Drama"]
    # A str value (not bytes) is encoded.
    assert _as_list(genre_values(np.array(["Sci-Fi|War"]))) == [b"Sci-Fi", b"War"]


def test_genre_values_reads_sparse_tensor_values():
    sparse = tf.compat.v1.SparseTensorValue(
        indices=np.array([[0, 0]]), values=np.array([b"Horror|Thriller"],
                                                    dtype=object),
        dense_shape=np.array([1, 1]))
    assert _as_list(genre_values(sparse)) == [b"Horror", b"Thriller"]

    class ValuesOnly:
        values = np.array([b"Western"], dtype=object)
    assert _as_list(genre_values(ValuesOnly())) == [b"Western"]


@pytest.mark.parametrize("empty", [
    None,
    np.array([], dtype=object),
    np.array([b""], dtype=object),
    tf.compat.v1.SparseTensorValue(
        indices=np.zeros((0, 2), np.int64), values=np.array([], dtype=object),
        dense_shape=np.array([1, 1])),
])
def test_empty_or_missing_genres_give_one_empty_slice_value(empty):
    assert _as_list(genre_values(empty)) == [b""]


def test_add_genre_slice_feature_adds_key_without_mutating_input():
    raw_features = {features.GENRES_KEY: np.array([b"Action|Comedy"],
                                                  dtype=object),
                    features.USER_KEY: np.array([7])}
    extract = {tfma.FEATURES_KEY: raw_features, "other": 1}
    before = copy.deepcopy(extract)

    result = add_genre_slice_feature(extract)

    assert features.GENRE_SLICE_KEY == "genre"
    assert _as_list(result[tfma.FEATURES_KEY][features.GENRE_SLICE_KEY]) \
        == [b"Action", b"Comedy"]
    # The other features and extract keys are carried over.
    assert result["other"] == 1
    np.testing.assert_array_equal(result[tfma.FEATURES_KEY][features.USER_KEY],
                                  [7])
    # The input extract and its features dict are untouched.
    assert set(extract) == set(before)
    assert extract[tfma.FEATURES_KEY] is raw_features
    assert set(raw_features) == {features.GENRES_KEY, features.USER_KEY}
    assert features.GENRE_SLICE_KEY not in raw_features
    assert result is not extract
    assert result[tfma.FEATURES_KEY] is not raw_features


def test_add_genre_slice_feature_without_genres_gives_empty_slice():
    result = add_genre_slice_feature({tfma.FEATURES_KEY: {}})
    assert _as_list(result[tfma.FEATURES_KEY][features.GENRE_SLICE_KEY]) == [b""]


def test_custom_extractors_put_the_genre_feature_just_before_slicing():
    eval_config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key=features.LABEL_KEY)],
        slicing_specs=[tfma.SlicingSpec(
            feature_keys=[features.GENRE_SLICE_KEY])])
    stages = [e.stage_name for e in custom_extractors(
        eval_shared_model=None, eval_config=eval_config,
        tensor_adapter_config=None)]
    assert stages.count("ExtractGenreSliceFeature") == 1
    position = stages.index("ExtractGenreSliceFeature")
    assert stages[position + 1] == "ExtractSliceKeys"
    assert "ExtractFeatures" in stages[:position]
