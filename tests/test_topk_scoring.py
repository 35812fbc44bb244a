"""recommender.scoring.ModelScorer on fake SavedModels."""
import numpy as np
import pytest
import tensorflow as tf

from recommender.scoring import ModelScorer
from topk_fixtures import save_fake_model
from trainer_module.model import RAW_SIGNATURE, SERVING_SIGNATURE


def _score(user_id, item_id, genres):
    # Depends on all three inputs, so a misaligned batch shows.
    return (tf.cast(user_id, tf.float32) - 0.5 * tf.cast(item_id, tf.float32)
            + 0.25 * tf.cast(tf.strings.length(genres), tf.float32))


def expected_scores(users, items, genres):
    return (users.astype(np.float32) - np.float32(0.5) * items
            + np.float32(0.25) * np.array([len(g) for g in genres],
                                          np.float32)).astype(np.float32)


USERS = np.array([9, 1, 4, 7, 2, 8, 3, 10, 5, 6], np.int64)
ITEMS = np.array([2, 8, 1, 12, 3, 5, 9, 1, 4, 30], np.int64)
GENRES = np.array([b"Comedy", b"", b"Drama|War", b"", b"Action",
                   b"Horror", b"", b"Sci-Fi|Thriller", b"Crime", b""],
                  object)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_fake_model(str(tmp_path_factory.mktemp("fake") / "model"),
                           _score)


def test_expected_values_span_the_clip():
    # The data must exercise both sides of the clip for the test to mean
    # anything: scores below 0.5, inside, and above 5.
    scores = expected_scores(USERS, ITEMS, GENRES)
    assert (scores < 0.5).any() and (scores > 5).any()
    assert ((scores >= 0.5) & (scores <= 5)).any()
    assert len(set(scores.tolist())) == len(scores)


@pytest.mark.parametrize("batch_size", [3, 1, 10, 11, 32768])
def test_predict_in_batches_keeps_order(model_dir, batch_size):
    scorer = ModelScorer(model_dir, batch_size=batch_size)
    predictions, scores = scorer.predict(USERS, ITEMS, GENRES)
    expected = expected_scores(USERS, ITEMS, GENRES)
    assert predictions.shape == scores.shape == (10,)
    assert scores.dtype == predictions.dtype == np.float32
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(predictions, np.clip(expected, 0.5, 5.0),
                               rtol=0, atol=1e-6)
    # Hand check of a few rows:
    #   row 0: 9 - 0.5 * 2 + 0.25 * len("Comedy") = 8 + 1.5 = 9.5 -> 5
    #   row 1: 1 - 0.5 * 8 + 0 = -3 -> 0.5
    #   row 2: 4 - 0.5 * 1 + 0.25 * len("Drama|War") = 3.5 + 2.25 = 5.75
    #   row 4: 2 - 0.5 * 3 + 0.25 * len("Action") = 0.5 + 1.5 = 2 (kept)
    assert scores[:3].tolist() == [9.5, -3.0, 5.75]
    assert predictions[:3].tolist() == [5.0, 0.5, 5.0]
    assert scores[4] == predictions[4] == 2.0


def test_batch_size_bounds_each_call(model_dir):
    scorer = ModelScorer(model_dir, batch_size=3)
    sizes = []
    signature = scorer._signature  # pylint: disable=protected-access

    def counting(**inputs):
        sizes.append(int(inputs["user_id"].shape[0]))
        return signature(**inputs)
    scorer._signature = counting  # pylint: disable=protected-access
    scorer.predict(USERS, ITEMS, GENRES)
    assert sizes == [3, 3, 3, 1]


def test_accepts_str_genres(model_dir):
    scorer = ModelScorer(model_dir, batch_size=4)
    genres = np.array([g.decode() for g in GENRES], object)
    _, scores = scorer.predict(USERS, ITEMS, genres)
    np.testing.assert_allclose(scores, expected_scores(USERS, ITEMS, GENRES))


def test_empty_input(model_dir):
    scorer = ModelScorer(model_dir, batch_size=3)
    predictions, scores = scorer.predict(np.zeros(0, np.int64),
                                         np.zeros(0, np.int64),
                                         np.zeros(0, object))
    for array in (predictions, scores):
        assert isinstance(array, np.ndarray)
        assert array.shape == (0,)
        assert array.dtype == np.float32


def test_missing_raw_signature_raises(tmp_path):
    path = save_fake_model(str(tmp_path / "no_raw"), _score,
                           signature_name=SERVING_SIGNATURE)
    with pytest.raises(ValueError) as error:
        ModelScorer(path)
    message = str(error.value)
    assert repr(RAW_SIGNATURE) in message  # 'serving_raw'
    assert SERVING_SIGNATURE in message  # what it has instead
    assert path in message
