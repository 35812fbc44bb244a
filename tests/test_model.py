"""The estimator from trainer_module.model, trained briefly and exported.

Two module-scoped fixtures, one per objective, analyse a small dataset with
tf.Transform, train the wide-and-deep estimator on the transformed rows for
a few hundred steps and export it with export.export_serving_model; the
tests load the SavedModel as TF Serving / TFMA / the batch scorer would.
"""
import dataclasses
import functools
import gzip
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from google.protobuf import text_format
from tensorflow import estimator as tf_estimator
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata

import movielens_features as features
from trainer_module import (export, history, model, objectives,
                            preprocessing, train_input, train_tables)
from trainer_module.hparams import HParams

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), os.pardir, "pipeline",
                           "schema", "schema.pbtxt")

# User A always rates 5, user B always 1, user C 3; every user rates every
# item several times.
USER_A, USER_B, USER_C = 1, 2, 3
ITEMS = list(range(10, 30))
REPEATS = 5
ITEM_GENRES = ["Action|Comedy", "Drama", "", "Sci-Fi|War", "Film-Noir"]
UNSEEN_USER, UNSEEN_ITEM = 424242, 987654
STEPS = 300
LABEL_XF = features.transformed_name(features.LABEL_KEY)

HPARAMS = HParams(batch_size=32, hidden_units=(8, 4), user_embedding_dim=4,
                  item_embedding_dim=2, crossed_hash_buckets=50, dropout=0.1,
                  train_steps=STEPS)

# Ranking: the NegativeSampler's rows. User A rated items 10-19 and got
# 20-29 as negatives (rating 0.0), user B the other way round, so every item
# is as popular as any other and only the user x item interaction ranks.
LIKED = {USER_A: ITEMS[:10], USER_B: ITEMS[10:]}
RANKING_HPARAMS = dataclasses.replace(
    objectives.RANKING.default_hparams(), batch_size=32, hidden_units=(8, 4),
    user_embedding_dim=4, history_embedding_dim=4, item_embedding_dim=4,
    crossed_hash_buckets=1000, train_steps=STEPS)


def _raw_rows():
    rows = []
    for _ in range(REPEATS):
        for user, rating in ((USER_A, 5.0), (USER_B, 1.0), (USER_C, 3.0)):
            for item in ITEMS:
                rows.append((user, item, rating,
                             ITEM_GENRES[item % len(ITEM_GENRES)]))
    return rows


def _ranking_rows():
    rows = []
    for _ in range(REPEATS):
        for user, liked in LIKED.items():
            for item in ITEMS:
                rating = 3.0 + item % 3 if item in liked else 0.0
                rows.append((user, item, rating,
                             ITEM_GENRES[item % len(ITEM_GENRES)]))
    return rows


def _instance(user, item, rating, genres):
    return {features.USER_KEY: [user], features.ITEM_KEY: [item],
            features.LABEL_KEY: [rating], features.TIMESTAMP_KEY: [881250949],
            features.GENRES_KEY: [genres] if genres else []}


def _metadata():
    with open(SCHEMA_PATH) as f:
        return dataset_metadata.DatasetMetadata(
            text_format.Parse(f.read(), schema_pb2.Schema()))


def _input_fn(transformed, batch_size):
    label_key = features.transformed_name(features.LABEL_KEY)
    columns = {key: np.stack([np.asarray(row[key]) for row in transformed])
               for key in transformed[0]}
    labels = columns.pop(label_key).astype(np.float32)

    def input_fn():
        return (tf.data.Dataset.from_tensor_slices((columns, labels))
                .shuffle(len(labels), seed=1).repeat().batch(batch_size))
    return input_fn


class Trained:
    def __init__(self, root, hparams=HPARAMS, rows=_raw_rows):
        self.root = root
        self.estimator_hparams = hparams
        transform_dir = str(root / "transform_output")
        # As the pipeline's Transform: the objective in custom_config.
        preprocessing_fn = functools.partial(
            preprocessing.preprocessing_fn,
            custom_config={preprocessing.OBJECTIVE_KEY: hparams.objective})
        with tft_beam.Context(temp_dir=str(root / "tft_tmp")):
            (transformed, _), transform_fn = (
                ([_instance(*row) for row in rows()], _metadata())
                | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
            _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
        self.tf_transform_output = tft.TFTransformOutput(transform_dir)
        self.num_users, self.num_items = model.vocabulary_sizes(
            self.tf_transform_output)
        self.model_dir = str(root / "model_run")
        # As run_fn: the history of the train rows' positives, if on.
        self.user_history = None
        if hparams.uses_history:
            positives = [row for row in transformed if row[LABEL_XF] > 0]
            self.user_history = train_tables.history_table(
                hparams, [row[history.USER_XF] for row in positives],
                [row[history.ITEM_XF] for row in positives], self.num_users,
                self.num_items)
        self.estimator = model.build_estimator(
            hparams, self.num_users, self.num_items,
            tf_estimator.RunConfig(model_dir=self.model_dir,
                                   tf_random_seed=hparams.random_seed,
                                   save_checkpoints_steps=STEPS,
                                   log_step_count_steps=STEPS),
            user_history=self.user_history)
        self.train_input = _input_fn(transformed, hparams.batch_size)
        self.estimator.train(self.train_input,
                             max_steps=hparams.steps_for(len(transformed)))
        self.serving_dir = str(root / "serving_model")
        export.export_serving_model(self.estimator, self.tf_transform_output,
                                     self.serving_dir, hparams.objective)
        self.loaded = tf.saved_model.load(self.serving_dir)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return Trained(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def trained_ranking(tmp_path_factory):
    return Trained(tmp_path_factory.mktemp("ranking_model"), RANKING_HPARAMS,
                   _ranking_rows)


def _example(user=None, item=None, genres=None):
    """A label-free tf.Example; genres=[] is a feature with no value."""
    feature = {}
    if user is not None:
        feature[features.USER_KEY] = tf.train.Feature(
            int64_list=tf.train.Int64List(value=[user]))
    if item is not None:
        feature[features.ITEM_KEY] = tf.train.Feature(
            int64_list=tf.train.Int64List(value=[item]))
    if genres is not None:
        feature[features.GENRES_KEY] = tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[g.encode() for g in genres]))
    return tf.train.Example(
        features=tf.train.Features(feature=feature)).SerializeToString()


# (user, item, genres as a tf.Example list or None for no feature) and the
# raw-signature genres string for the same row.
SERVING_ROWS = [
    ((USER_A, 10, ["Action|Comedy"]), "Action|Comedy"),
    ((USER_B, 11, ["Drama"]), "Drama"),
    ((UNSEEN_USER, 12, ["Drama"]), "Drama"),
    ((USER_C, UNSEEN_ITEM, ["Sci-Fi|War"]), "Sci-Fi|War"),
    ((USER_A, 13, []), ""),         # genres present with no value
    ((USER_B, 14, None), ""),       # no genres feature at all
    ((UNSEEN_USER, UNSEEN_ITEM, None), ""),
]


def _serve_examples(loaded, rows):
    serialized = tf.constant([_example(u, i, g) for u, i, g in rows])
    return loaded.signatures[model.SERVING_SIGNATURE](examples=serialized)


def _serve_raw(loaded, users, items, genres):
    return loaded.signatures[model.RAW_SIGNATURE](
        user_id=tf.constant(users, tf.int64),
        item_id=tf.constant(items, tf.int64),
        genres=tf.constant(genres, tf.string))


def test_vocabulary_sizes_include_the_oov_bucket(trained):
    assert trained.tf_transform_output.vocabulary_by_name(
        features.USER_VOCAB_NAME) == [b"3", b"2", b"1"]  # all 100x: ties
    assert (trained.num_users, trained.num_items) == (3 + 1, len(ITEMS) + 1)


def test_signatures_and_their_inputs(trained):
    signatures = trained.loaded.signatures
    assert {model.SERVING_SIGNATURE, model.RAW_SIGNATURE} <= set(signatures)
    assert model.SERVING_SIGNATURE == "serving_default"
    assert model.RAW_SIGNATURE == "serving_raw"

    _, serving_inputs = signatures[model.SERVING_SIGNATURE] \
        .structured_input_signature
    assert {k: (v.dtype, v.shape.as_list()) for k, v in serving_inputs.items()} \
        == {"examples": (tf.string, [None])}
    assert set(signatures[model.SERVING_SIGNATURE].structured_outputs) == {
        model.PREDICTION_KEY}

    _, raw_inputs = signatures[model.RAW_SIGNATURE].structured_input_signature
    assert {k: (v.dtype, v.shape.as_list()) for k, v in raw_inputs.items()} \
        == {features.USER_KEY: (tf.int64, [None]),
            features.ITEM_KEY: (tf.int64, [None]),
            features.GENRES_KEY: (tf.string, [None])}
    assert set(signatures[model.RAW_SIGNATURE].structured_outputs) == {
        model.PREDICTION_KEY, model.SCORE_KEY}


def test_serving_default_predicts_within_the_rating_scale(trained):
    rows = [row for row, _ in SERVING_ROWS]
    predictions = _serve_examples(trained.loaded, rows)[model.PREDICTION_KEY]
    assert predictions.dtype == tf.float32
    assert predictions.shape == (len(rows), 1)
    values = predictions.numpy()
    assert np.all(np.isfinite(values))
    assert np.all(values >= features.RATING_MIN)
    assert np.all(values <= features.RATING_MAX)


def test_serving_raw_matches_serving_default(trained):
    rows = [row for row, _ in SERVING_ROWS]
    from_examples = _serve_examples(trained.loaded, rows)[
        model.PREDICTION_KEY].numpy()
    raw = _serve_raw(trained.loaded, [u for u, _, _ in rows],
                     [i for _, i, _ in rows], [g for _, g in SERVING_ROWS])
    predictions = raw[model.PREDICTION_KEY].numpy()
    scores = raw[model.SCORE_KEY].numpy()
    assert predictions.shape == scores.shape == (len(rows), 1)
    np.testing.assert_allclose(predictions, from_examples, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(
        np.clip(scores, features.RATING_MIN, features.RATING_MAX),
        predictions, rtol=1e-6)


def test_empty_and_missing_genres_predict_like_an_empty_string(trained):
    # The same user/item with genres [] and without the feature: identical.
    out = _serve_examples(trained.loaded, [
        (USER_A, 13, []), (USER_A, 13, None), (USER_A, 13, [""])])
    values = out[model.PREDICTION_KEY].numpy().ravel()
    assert values[0] == pytest.approx(values[1])
    assert values[0] == pytest.approx(values[2])


def test_genres_change_the_prediction(trained):
    # The genre vector is a model input: a different genre, a different
    # (unclipped) score.
    raw = _serve_raw(trained.loaded, [USER_C, USER_C], [10, 10],
                     ["Action|Comedy", ""])
    scores = raw[model.SCORE_KEY].numpy().ravel()
    assert scores[0] != scores[1]


def test_unseen_ids_share_the_oov_bucket(trained):
    # Ids the vocabularies never saw all map to the one OOV bucket: a
    # defined, finite score, the same for every unseen id.
    raw = _serve_raw(trained.loaded, [USER_A, USER_A, 900, 901],
                     [998, 999, 10, 10], ["Drama"] * 4)
    scores = raw[model.SCORE_KEY].numpy().ravel()
    assert np.all(np.isfinite(scores))
    assert scores[0] == scores[1]
    assert scores[2] == scores[3]


def test_unknown_genre_serves_like_no_genre(trained):
    raw = _serve_raw(trained.loaded, [USER_C] * 3, [10] * 3,
                     ["Cyberpunk", "", "Cyberpunk|"])
    scores = raw[model.SCORE_KEY].numpy().ravel()
    assert scores[0] == scores[1] == scores[2]


def test_missing_user_id_raises(trained):
    with pytest.raises(tf.errors.InvalidArgumentError, match="user_id"):
        _serve_examples(trained.loaded, [(None, 10, ["Drama"])])


def test_model_learns_the_users_ratings(trained):
    items = ITEMS[:10]
    n = len(items)
    raw = _serve_raw(trained.loaded, [USER_A] * n + [USER_B] * n, items * 2,
                     [ITEM_GENRES[i % len(ITEM_GENRES)] for i in items] * 2)
    scores = raw[model.SCORE_KEY].numpy().ravel()
    a, b = scores[:n], scores[n:]
    assert np.all(a > b), (a, b)
    # Clearly apart, not just noise: A towards 5, B towards 1 (after 300
    # steps about 4.2 and 1.9).
    assert a.mean() - b.mean() > 1.5, (a, b)
    assert a.mean() > 3.5 and b.mean() < 2.5, (a, b)


class _FakeEstimatorExport(tf.Module):
    """Stands in for the estimator's TF1 export: fixed, out-of-scale scores."""

    def __init__(self, scores):
        super().__init__()
        self.calls = []

        def predict(**inputs):
            self.calls.append(sorted(inputs))
            return {model.PREDICTION_KEY: tf.constant(scores, tf.float32)}
        self.signatures = {"predict": predict, "raw:predict": predict}


def test_serving_module_clips_predictions_but_not_scores():
    scores = [[7.0], [-1.0], [3.25], [0.5], [5.0]]
    export = _FakeEstimatorExport(scores)
    module = model.ServingModule(export)
    signatures = module.signatures()
    assert set(signatures) == {model.SERVING_SIGNATURE, model.RAW_SIGNATURE}

    out = signatures[model.SERVING_SIGNATURE](
        examples=tf.constant([b""] * 5))
    assert set(out) == {model.PREDICTION_KEY}
    np.testing.assert_array_equal(out[model.PREDICTION_KEY].numpy(),
                                  [[5.0], [0.5], [3.25], [0.5], [5.0]])

    raw = signatures[model.RAW_SIGNATURE](
        user_id=tf.constant([1] * 5, tf.int64),
        item_id=tf.constant([2] * 5, tf.int64),
        genres=tf.constant([""] * 5))
    np.testing.assert_array_equal(raw[model.PREDICTION_KEY].numpy(),
                                  [[5.0], [0.5], [3.25], [0.5], [5.0]])
    np.testing.assert_array_equal(raw[model.SCORE_KEY].numpy(), scores)
    assert export.calls == [["examples"], sorted(features.SERVING_FEATURE_KEYS)]


def _variables(model_dir):
    return {name for name, _ in tf.train.list_variables(model_dir)}


def test_each_objective_trains_its_estimator_and_optimizer(trained,
                                                           trained_ranking):
    assert type(trained.estimator) is tf_estimator.DNNLinearCombinedRegressor
    # The ranking model's history features wrap the canned classifier
    # (model.with_history_tables): its head shows in what it predicts.
    regressed, classified = (next(t.estimator.predict(t.train_input))
                             for t in (trained, trained_ranking))
    assert set(regressed) == {"predictions"}
    assert {"logits", "logistic", "class_ids"} <= set(classified)
    cross = "linear/linear_model/item_id_xf_X_user_id_xf/weights"
    item = "linear/linear_model/item_id_xf/weights"
    rating, ranking = (_variables(trained.model_dir),
                       _variables(trained_ranking.model_dir))
    # Rating, as the seed: the cross alone in the wide part, Adagrad.
    assert cross in rating and item not in rating
    assert any(v.startswith("training/Adagrad/dnn/") for v in rating)
    assert not any(v.startswith("training/Adam/") for v in rating)
    # Ranking: the cross plus the item one-hot (wide_item_column), Adam.
    assert {cross, item} <= ranking
    assert any(v.startswith("training/Adam/dnn/") for v in ranking)
    assert not any(v.startswith("training/Adagrad/") for v in ranking)


def test_feature_columns_add_the_item_one_hot_on_request():
    wide, deep = model.feature_columns(HParams(), 4, 21)
    assert [c.name for c in wide] == ["item_id_xf_X_user_id_xf"]
    wide, deep = model.feature_columns(RANKING_HPARAMS, 4, 21)
    assert [c.name for c in wide] == ["item_id_xf_X_user_id_xf", "item_id_xf",
                                      "item_ease_xf"]
    assert wide[1].num_buckets == 21
    assert [c.name for c in deep] == [
        "user_id_xf_embedding", "item_id_xf_embedding", "genres_xf",
        "user_history_xf_embedding", "item_ease_xf"]


def test_feature_columns_drop_the_user_item_cross_on_request():
    wide, deep = model.feature_columns(dataclasses.replace(
        RANKING_HPARAMS, wide_user_item_cross=False), 4, 21)
    assert [c.name for c in wide] == ["item_id_xf", "item_ease_xf"]
    assert len(deep) == 5


def test_ranking_exports_the_rating_models_signatures(trained,
                                                      trained_ranking):
    # Same names, inputs and outputs: the TopKEvaluator, recommend, TFMA and
    # TF Serving call either model the same way.
    for name in (model.SERVING_SIGNATURE, model.RAW_SIGNATURE):
        rating = trained.loaded.signatures[name]
        ranking = trained_ranking.loaded.signatures[name]
        assert ranking.structured_input_signature == \
            rating.structured_input_signature
        assert set(ranking.structured_outputs) == \
            set(rating.structured_outputs)


def test_ranking_scores_put_each_users_liked_items_first(trained_ranking):
    for user, liked in LIKED.items():
        raw = _serve_raw(trained_ranking.loaded, [user] * len(ITEMS), ITEMS,
                         [ITEM_GENRES[i % len(ITEM_GENRES)] for i in ITEMS])
        scores = dict(zip(ITEMS, raw[model.SCORE_KEY].numpy().ravel()))
        others = [item for item in ITEMS if item not in liked]
        # Every liked item above every other one (after 300 steps the
        # logits are about +2.5..+5 and -4..-7).
        assert min(scores[i] for i in liked) > \
            max(scores[i] for i in others) + 2.0, (user, scores)


def test_ranking_predictions_are_the_sigmoid_of_the_scores(trained_ranking):
    rows = [row for row, _ in SERVING_ROWS]
    predictions = _serve_examples(trained_ranking.loaded, rows)[
        model.PREDICTION_KEY].numpy()
    raw = _serve_raw(trained_ranking.loaded, [u for u, _, _ in rows],
                     [i for _, i, _ in rows], [g for _, g in SERVING_ROWS])
    scores = raw[model.SCORE_KEY].numpy()
    assert predictions.shape == scores.shape == (len(rows), 1)
    assert np.all((predictions >= 0.0) & (predictions <= 1.0))
    np.testing.assert_allclose(predictions, 1.0 / (1.0 + np.exp(-scores)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(raw[model.PREDICTION_KEY].numpy(),
                               predictions, rtol=1e-5, atol=1e-6)
    # A liked item is likely a positive, a negative item unlikely.
    assert predictions[0, 0] > 0.9  # user A, item 10
    assert predictions[1, 0] < 0.1  # user B, item 11


class _FakeClassifierExport(tf.Module):
    """The classifier's TF1 predict signature: logits and what derives from
    them; "logistic" deliberately off, to show which output is used."""

    def __init__(self, logits):
        super().__init__()

        def predict(**_):
            logits_ = tf.constant(logits, tf.float32)
            return {"logits": logits_, "logistic": tf.zeros_like(logits_),
                    "probabilities": tf.concat(
                        [1.0 - tf.sigmoid(logits_), tf.sigmoid(logits_)], 1),
                    "class_ids": tf.cast(logits_ > 0, tf.int64)}
        self.signatures = {"predict": predict, "raw:predict": predict}


def test_serving_module_for_ranking_serves_sigmoid_and_logits():
    logits = [[0.0], [np.log(3.0)], [-np.log(3.0)], [30.0]]
    module = model.ServingModule(_FakeClassifierExport(logits),
                                 features.RANKING_OBJECTIVE)
    signatures = module.signatures()
    out = signatures[model.SERVING_SIGNATURE](examples=tf.constant([b""] * 4))
    assert set(out) == {model.PREDICTION_KEY}
    np.testing.assert_allclose(out[model.PREDICTION_KEY].numpy(),
                               [[0.5], [0.75], [0.25], [1.0]], rtol=1e-6)
    raw = signatures[model.RAW_SIGNATURE](
        user_id=tf.constant([1] * 4, tf.int64),
        item_id=tf.constant([2] * 4, tf.int64),
        genres=tf.constant([""] * 4))
    np.testing.assert_allclose(raw[model.PREDICTION_KEY].numpy(),
                               [[0.5], [0.75], [0.25], [1.0]], rtol=1e-6)
    # Scores are the logits: 30 still ranks, where the sigmoid is 1.0.
    np.testing.assert_allclose(raw[model.SCORE_KEY].numpy(), logits,
                               rtol=1e-6)


def test_serving_module_refuses_an_unknown_objective():
    with pytest.raises(ValueError, match="'pairwise'"):
        model.ServingModule(_FakeEstimatorExport([[1.0]]), "pairwise")


def _write_gzipped_records(path, count):
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for i in range(count):
            writer.write(_example(i + 1, 10 + i, ["Drama"]))


def test_count_records(tmp_path):
    _write_gzipped_records(tmp_path / "data_tfrecord-00000-of-00002.gz", 7)
    _write_gzipped_records(tmp_path / "data_tfrecord-00001-of-00002.gz", 3)
    (tmp_path / "other").mkdir()
    _write_gzipped_records(tmp_path / "other" / "part.gz", 4)
    # The files really are gzipped.
    with gzip.open(tmp_path / "other" / "part.gz", "rb") as f:
        assert f.read()

    assert train_input.count_records([str(tmp_path / "data_tfrecord-*.gz")]) == 10
    assert train_input.count_records([
        str(tmp_path / "data_tfrecord-00000-of-00002.gz"),
        str(tmp_path / "other" / "*")]) == 11
    assert train_input.count_records([str(tmp_path / "other" / "*.gz")]) == 4


def test_count_records_refuses_patterns_matching_nothing(tmp_path):
    # A wrong pattern must not silently train for one step.
    with pytest.raises(ValueError, match="no training examples match"):
        train_input.count_records([str(tmp_path / "missing-*.gz")])


def test_seed_embeddings_are_max_norm_clipped_as_the_notebook():
    _, deep = model.feature_columns(HParams(), 4, 21)
    # tf_utils.build_feature_columns: max_norm = sqrt(dimension).
    assert [c.max_norm for c in deep[:2]] == [8.0, 2.0]
    _, deep = model.feature_columns(RANKING_HPARAMS, 4, 21)
    assert [c.max_norm for c in deep[:2]] == [None, None]


@pytest.mark.parametrize("reduction, expected_ratio", [("sum", 8.0),
                                                        ("mean", 1.0)])
def test_loss_reduction_sums_the_batch_as_the_seed_or_averages_it(
        tmp_path, reduction, expected_ratio):
    # Two estimators with the same initial weights, barely trained (one
    # step at a negligible rate), evaluated on one batch of 8 rows: the
    # seed's sum is 8 times the mean.
    columns = {features.transformed_name(features.USER_KEY): np.arange(8),
               features.transformed_name(features.ITEM_KEY): np.arange(8),
               features.transformed_name(features.GENRES_KEY):
                   np.zeros((8, len(features.GENRES)), np.float32)}
    labels = np.linspace(1, 5, 8).astype(np.float32)

    def input_fn():
        return tf.data.Dataset.from_tensors((columns, labels))

    losses = {}
    for name in (reduction, "mean"):
        hparams = HParams(loss_reduction=name, hidden_units=(4,),
                          dnn_learning_rate=1e-12,
                          linear_learning_rate=1e-12)
        estimator = model.build_estimator(
            hparams, 9, 9, tf_estimator.RunConfig(
                model_dir=str(tmp_path / name), tf_random_seed=5))
        estimator.train(input_fn, max_steps=1)
        losses[name] = estimator.evaluate(input_fn, steps=1)["loss"]
    assert losses[reduction] == pytest.approx(
        expected_ratio * losses["mean"], rel=1e-4)


_SCORE_IN_A_FRESH_PROCESS = """
import json, sys
import tensorflow as tf
users, items, genres = json.loads(sys.stdin.read())
model = tf.saved_model.load(sys.argv[1])
out = model.signatures["serving_raw"](
    user_id=tf.constant(users, tf.int64), item_id=tf.constant(items, tf.int64),
    genres=tf.constant(genres, tf.string))
print(json.dumps(out["scores"].numpy().ravel().tolist()))
"""


def test_export_scores_in_a_fresh_process_as_the_trained_estimator(
        trained_ranking):
    """The pushed SavedModel alone (its history and EASE tables inside) in a
    new Python process gives the trained estimator's own logits."""
    import json
    import subprocess
    import sys
    users = [USER_A, USER_B, USER_C, UNSEEN_USER] * 5
    items = ITEMS[:len(users)]
    genres = [ITEM_GENRES[i % len(ITEM_GENRES)] for i in items]
    done = subprocess.run(
        [sys.executable, "-c", _SCORE_IN_A_FRESH_PROCESS,
         trained_ranking.serving_dir],
        input=json.dumps([users, items, genres]), capture_output=True,
        text=True, check=True)
    served = np.array(json.loads(done.stdout.strip().splitlines()[-1]))

    def input_fn():
        raw = {features.USER_KEY: tf.constant(users, tf.int64),
               features.ITEM_KEY: tf.constant(items, tf.int64),
               features.GENRES_KEY: tf.constant(genres)}
        transformed = trained_ranking.tf_transform_output.transform_raw_features(
            model._as_transform_inputs(raw), drop_unused_features=True)
        return tf.data.Dataset.from_tensors(transformed)
    logits = np.array([p["logits"][0] for p in
                       trained_ranking.estimator.predict(input_fn)])
    np.testing.assert_allclose(served, logits, rtol=1e-5, atol=1e-5)
    assert np.ptp(served) > 1.0  # the pairs score differently


def _graph_constants(saved_model_dir):
    """Every Const node's value in the SavedModel's graphs and functions."""
    from tensorflow.core.protobuf import saved_model_pb2
    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    for graph in (meta.graph_def for meta in saved.meta_graphs):
        nodes = list(graph.node) + [node for function in graph.library.function
                                    for node in function.node_def]
        for node in nodes:
            if node.op == "Const":
                yield tf.make_ndarray(node.attr["value"].tensor)


def test_history_tables_ship_as_variables_not_graph_constants(
        trained_ranking):
    """The history and EASE tables are in the export's
    variables with their trained values and in none of its graphs, so the
    graph stays small however large the catalog (protobuf's 2 GB cap)."""
    table = trained_ranking.user_history
    arrays = [table.items, table.row_splits, table.ease_inverse,
              table.ease_self]
    reader = tf.train.load_checkpoint(os.path.join(
        trained_ranking.serving_dir, "variables", "variables"))
    saved = [reader.get_tensor(name)
             for name in reader.get_variable_to_shape_map()]

    def holds(values, array):
        return any(np.shape(v) == array.shape and np.array_equal(v, array)
                   for v in values)
    assert all(holds(saved, array) for array in arrays)
    constants = list(_graph_constants(trained_ranking.serving_dir))
    assert constants  # the parse found the graphs' constants
    # The float tables (the id tables of this tiny set, 0..9 twice, match
    # some index constant by chance).
    assert not any(holds(constants, array) for array in (
        table.ease_inverse, table.ease_self))


def _ease_scores(trained_model, users, items, genres):
    """The model's EASE input (history.add_history) of the raw pairs, in a
    TF1 graph as the estimator computes it."""
    with tf.Graph().as_default():
        transformed = trained_model.tf_transform_output.transform_raw_features(
            model._as_transform_inputs({
                features.USER_KEY: tf.constant(users, tf.int64),
                features.ITEM_KEY: tf.constant(items, tf.int64),
                features.GENRES_KEY: tf.constant(genres)}),
            drop_unused_features=True)
        ease = history.add_history(transformed, trained_model.user_history)[
            features.ITEM_EASE_XF]
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.tables_initializer())
            return session.run(ease)


# Overlapping tastes, so a user's EASE scores differ between movies (the
# disjoint LIKED users co-rate nothing: every EASE score is 0).
OVERLAPPING_LIKES = {USER_A: ITEMS[:10], USER_B: ITEMS[5:15],
                     USER_C: ITEMS[10:]}


def _overlapping_ranking_rows():
    return [(user, item, 4.0 if item in liked else 0.0,
             ITEM_GENRES[item % len(ITEM_GENRES)])
            for user, liked in OVERLAPPING_LIKES.items() for item in ITEMS]


def test_ease_blend_ranks_by_logit_plus_weight_times_the_ease_score(
        tmp_path):
    """With ease_blend_weight w, the exported model scores logit + w *
    the candidate's EASE score (history.add_history's, the model's own
    input) on the trained weights, and serves its sigmoid."""
    trained_ranking = Trained(
        tmp_path, dataclasses.replace(RANKING_HPARAMS, train_steps=20,
                                      ease_l2=1.0, ease_blend_weight=0.0),
        _overlapping_ranking_rows)
    weight = 7.0
    blended = model.build_estimator(
        dataclasses.replace(trained_ranking.estimator_hparams,
                            ease_blend_weight=weight),
        trained_ranking.num_users, trained_ranking.num_items,
        trained_ranking.estimator.config,
        user_history=trained_ranking.user_history)
    serving_dir = str(tmp_path / "blended")
    export.export_serving_model(blended, trained_ranking.tf_transform_output,
                                 serving_dir, features.RANKING_OBJECTIVE)
    users = [USER_A, USER_B, USER_C, UNSEEN_USER] * 5
    items = ITEMS[::-1][:len(users)]
    genres = [ITEM_GENRES[i % len(ITEM_GENRES)] for i in items]
    served = _serve_raw(tf.saved_model.load(serving_dir), users, items,
                        genres)
    plain = _serve_raw(trained_ranking.loaded, users, items, genres)
    ease = _ease_scores(trained_ranking, users, items, genres)
    assert np.ptp(ease) > 0.05  # the pairs' EASE scores differ
    expected = plain[model.SCORE_KEY].numpy() + weight * ease
    np.testing.assert_allclose(served[model.SCORE_KEY].numpy(), expected,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(served[model.PREDICTION_KEY].numpy(),
                               1.0 / (1.0 + np.exp(-expected)),
                               rtol=1e-5, atol=1e-6)
