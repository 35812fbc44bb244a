"""serving_topk: the served top-k (trainer_module/topk_serving.py).

Unit tests on a fake estimator export whose score is (item_id // 2),
negated for odd users, so every list is known by hand (items 6 and 7 tie);
then the pushed models of the tiny rating and ranking runs: every user's
list equals the TopKEvaluator's ranking of the same model, the fallback, the
padding, the tables as variables, and the TF Serving requests of
docs/serving.md checked against the SavedModel's signature_def.
"""
import json
import os
import pathlib
import re

import numpy as np
import pytest
import tensorflow as tf

import movielens_features as features
from trainer_module import history, model, preprocessing, topk_serving

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "serving.md"
TOPK = model.TOPK_SIGNATURE
ITEMS, SCORES, PREDICTIONS = (topk_serving.ITEM_IDS_KEY, model.SCORE_KEY,
                              model.PREDICTION_KEY)
PAD = topk_serving.PADDING_ITEM_ID

# Vocabularies in Transform's order (by frequency), not by id.
USER_VOCAB = [b"5", b"2", b"7"]
ITEM_VOCAB = [b"20", b"4", b"6", b"7", b"12"]
# Train pairs as vocabulary indexes: 5 rated 4 and 7, 2 rated 20, 7 rated 7.
HISTORY_USERS, HISTORY_ITEMS = [0, 0, 1, 2], [1, 3, 0, 3]


def hand_tables():
    genres = np.zeros((len(ITEM_VOCAB), len(features.GENRES)), np.float32)
    genres[0, [0, 7]] = 1  # 20: Action|Drama
    genres[2, 4] = 1  # 6: Comedy; 4, 7 and 12 none
    return topk_serving.build_tables(
        history.build_user_history(HISTORY_USERS, HISTORY_ITEMS,
                                   len(USER_VOCAB) + 1),
        USER_VOCAB, ITEM_VOCAB, genres)


# ------------------------------------------------------------- the tables


def test_tables_in_raw_ids_sorted_with_catalog_columns():
    tables = hand_tables()
    assert tables.item_ids.tolist() == [4, 6, 7, 12, 20]
    assert tables.genres.tolist() == [b"", b"Comedy", b"", b"",
                                      b"Action|Drama"]
    assert tables.user_ids.tolist() == [2, 5, 7]
    # 2: {20} = column 4; 5: {4, 7} = columns 0, 2; 7: {7} = column 2.
    assert tables.row_splits.tolist() == [0, 1, 3, 4]
    assert tables.seen.tolist() == [4, 0, 2, 2]
    assert tables.seen.dtype == np.int32


def test_genre_strings_transform_back_to_the_same_multi_hot():
    rows = np.zeros((4, len(features.GENRES)), np.float32)
    rows[0, [3, 15]] = 1  # Children's|Sci-Fi
    rows[1, len(features.GENRES) - 1] = 1  # unknown
    rows[2, :] = 1
    strings = topk_serving.genre_strings(rows)
    assert strings[0] == b"Children's|Sci-Fi" and strings[3] == b""
    np.testing.assert_array_equal(
        preprocessing.multi_hot_genres(tf.constant(list(strings))).numpy(),
        rows)


@pytest.mark.parametrize("change, message", [
    (dict(user_vocabulary=[b"5", b"x", b"7"]), "user_id_vocab must hold "
                                               "integer ids"),
    (dict(item_vocabulary=[b"20", b"4", b"6", b"7", b"20"]), "repeats"),
    (dict(item_genres=np.zeros((4, len(features.GENRES)))), r"\[5, 20\]"),
    (dict(user_history=history.build_user_history([0, 3], [1, 1], 4)),
     "outside the user vocabulary"),
    (dict(item_vocabulary=[b"20", b"4", b"6"]), "item index 3, outside"),
])
def test_tables_refuse_inputs_that_do_not_fit(change, message):
    arguments = dict(
        user_history=history.build_user_history(HISTORY_USERS, HISTORY_ITEMS,
                                                4),
        user_vocabulary=USER_VOCAB, item_vocabulary=ITEM_VOCAB,
        item_genres=np.zeros((len(ITEM_VOCAB), len(features.GENRES))))
    if "item_vocabulary" in change and "item_genres" not in change:
        change = dict(change, item_genres=np.zeros(
            (len(change["item_vocabulary"]), len(features.GENRES))))
    with pytest.raises(ValueError, match=message):
        topk_serving.build_tables(**{**arguments, **change})


# ------------------------------------------- the signature, on a fake model


class _FakeExport(tf.Module):
    """The estimator export's signatures: raw:predict scores (item_id // 2),
    negated for odd users, as a [n, 1] regressor output, and records the
    genres of every movie it scores."""

    def __init__(self):
        super().__init__()
        self.genres_seen = {}
        self.signatures = {"predict": self._examples,
                           "raw:predict": self._raw}

    def _score(self, user_id, item_id, genres):
        self.genres_seen.update(zip(item_id.numpy().tolist(),
                                    genres.numpy().tolist()))
        sign = 1 - 2 * (user_id.numpy() % 2)
        return (item_id.numpy() // 2 * sign).astype(np.float32)

    def _raw(self, **inputs):
        scores = tf.py_function(self._score, [
            inputs[features.USER_KEY], inputs[features.ITEM_KEY],
            inputs[features.GENRES_KEY]], tf.float32)
        return {"predictions": tf.reshape(scores, [-1, 1])}

    @staticmethod
    def _examples(examples):
        return {"predictions": tf.zeros([tf.size(examples), 1])}


@pytest.fixture(scope="module")
def fake():
    export = _FakeExport()
    return export, model.ServingModule(export, topk_tables=hand_tables())


def call(signature, users, k):
    out = signature(user_id=tf.constant(users, tf.int64),
                    k=tf.constant(k, tf.int32))
    return {name: value.numpy().tolist() for name, value in out.items()}


def test_known_users_lists_exclude_train_movies_ties_to_smaller_id(fake):
    _, module = fake
    out = call(module.serve_topk, [2, 5, 7], 3)
    # 2 (even) unseen 4 6 7 12 score 2 3 3 6; 5 (odd) unseen 6 12 20 score
    # -3 -6 -10; 7 (odd) unseen 4 6 12 20 score -2 -3 -6 -10.
    assert out[ITEMS] == [[12, 6, 7], [6, 12, 20], [4, 6, 12]]
    assert out[SCORES] == [[6, 3, 3], [-3, -6, -10], [-2, -3, -6]]
    # The regressor's prediction: the score clipped to [0.5, 5].
    assert out[PREDICTIONS] == [[5, 3, 3], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]


def test_scores_every_catalog_movie_with_its_genres(fake):
    export, module = fake
    export.genres_seen.clear()
    call(module.serve_topk, [2], 1)
    assert export.genres_seen == {4: b"", 6: b"Comedy", 7: b"", 12: b"",
                                  20: b"Action|Drama"}


def test_unknown_users_get_every_movie_by_the_oov_score(fake):
    _, module = fake
    out = call(module.serve_topk, [99, 1, 8], 5)
    assert out[ITEMS] == [[4, 6, 7, 12, 20], [4, 6, 7, 12, 20],
                          [20, 12, 6, 7, 4]]
    assert out[SCORES][2] == [10, 6, 3, 3, 2]


def test_k_past_the_unseen_movies_pads_with_minus_one(fake):
    _, module = fake
    out = call(module.serve_topk, [5, 2, 99], 7)  # 3, 4, 5 unseen of 5
    assert out[ITEMS] == [[6, 12, 20, PAD, PAD, PAD, PAD],
                          [12, 6, 7, 4, PAD, PAD, PAD],
                          [4, 6, 7, 12, 20, PAD, PAD]]
    assert out[SCORES][0][3:] == [-np.inf] * 4
    assert out[PREDICTIONS][1][4:] == [-np.inf] * 3
    assert call(module.serve_topk, [], 2)[ITEMS] == []


def test_k_below_one_is_refused_naming_k(fake):
    _, module = fake
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="serving_topk: k must be a positive integer"):
        call(module.serve_topk, [2], 0)


def test_module_without_tables_has_only_the_pair_signatures(fake):
    export, _ = fake
    assert set(model.ServingModule(export).signatures()) == {
        model.SERVING_SIGNATURE, model.RAW_SIGNATURE}


# ------------------------------------------- the tiny runs' pushed models


def pushed_model_dir(run):
    versions = [name for name in os.listdir(run.serving_dir)
                if name.isdigit()]
    return str(run.serving_dir / max(versions, key=int))


class Served:
    """A tiny run's pushed model (loaded for serving_topk and as the
    TopKEvaluator's ModelScorer) and the data its pipeline read."""

    def __init__(self, run):
        from recommender import catalog, data
        from recommender.scoring import ModelScorer
        from runtime import metadata_report
        self.model_dir = pushed_model_dir(run)
        self.loaded = tf.saved_model.load(self.model_dir)
        self.topk = self.loaded.signatures[TOPK]
        self.scorer = ModelScorer(self.model_dir)
        store = metadata_report.open_existing_store(run.metadata_path)
        examples = metadata_report.latest_examples(store)
        self.train = data.read_split(examples, "train")
        self.eval = data.read_split(examples, "eval")
        self.catalog = catalog.build_catalog(self.train, self.eval)


@pytest.fixture(scope="module", params=["rating", "ranking"])
def served(request):
    fixture = {"rating": "tiny_pipeline_run",
               "ranking": "tiny_ranking_run"}[request.param]
    return Served(request.getfixturevalue(fixture))


def evaluator_top_k(served, k):
    """The TopKEvaluator's lists of the model (evaluate.RankShard: pool
    shards, ModelScorer's score, top_k_per_user): {user: (items, scores)}."""
    from recommender import metrics, pool
    movies = served.catalog
    lists = {}
    for shard in pool.make_shards(served.train, served.eval, movies):
        users, cols = pool.candidate_pairs(shard, len(movies.item_ids))
        items = movies.item_ids[cols]
        scores = served.scorer.predict(users, items, movies.genres[cols])[1]
        top = metrics.top_k_per_user(users, items, scores, k)
        by_pair = dict(zip(zip(users.tolist(), items.tolist()),
                           scores.tolist()))
        for user in np.unique(top.user_ids).tolist():
            ranked = top.item_ids[top.user_ids == user].tolist()
            lists[user] = (ranked, [by_pair[user, i] for i in ranked])
    return lists


@pytest.mark.e2e  # the tiny pipeline runs' pushed models
def test_every_users_list_is_the_topk_evaluators(served):
    k = 20
    expected = evaluator_top_k(served, k)
    users = sorted(expected)
    # Every user of the tiny runs is a train user; the catalogs agree.
    assert set(served.train[features.USER_KEY]) == set(users)
    assert set(served.eval[features.ITEM_KEY]) <= set(
        served.train[features.ITEM_KEY])
    out = call(served.topk, users, k)
    for row, user in enumerate(users):
        assert (out[ITEMS][row], out[SCORES][row]) == expected[user], user


@pytest.mark.e2e  # the tiny pipeline runs' pushed models
def test_no_train_movie_is_served(served):
    users = np.unique(served.train[features.USER_KEY]).tolist()
    out = call(served.topk, users, 30)
    listed = {(user, item) for user, items in zip(users, out[ITEMS])
              for item in items}
    train = set(zip(served.train[features.USER_KEY].tolist(),
                    served.train[features.ITEM_KEY].tolist()))
    assert listed and not listed & train


@pytest.mark.e2e  # the tiny pipeline runs' pushed models
def test_unknown_user_gets_the_oov_users_scores_over_every_movie(served):
    from recommender import metrics
    movies = served.catalog
    unknown = int(served.train[features.USER_KEY].max()) + 1
    scores = served.scorer.predict(
        np.full(len(movies.item_ids), unknown), movies.item_ids,
        movies.genres)[1]
    expected = metrics.top_k_per_user(
        np.zeros(len(scores)), movies.item_ids, scores, 10).item_ids.tolist()
    out = call(served.topk, [unknown, 10 ** 12], 10)
    assert out[ITEMS] == [expected, expected]


@pytest.mark.e2e  # the tiny pipeline runs' pushed models
def test_k_past_the_catalog_pads_a_full_ranking(served):
    user = int(served.train[features.USER_KEY].iloc[0])
    movies = served.train[features.ITEM_KEY].nunique()
    rated = served.train.loc[served.train[features.USER_KEY] == user,
                             features.ITEM_KEY].nunique()
    out = call(served.topk, [user], movies + 3)
    unseen = movies - rated
    assert len(out[ITEMS][0]) == movies + 3
    assert out[ITEMS][0][unseen:] == [PAD] * (rated + 3)
    assert PAD not in out[ITEMS][0][:unseen]
    assert out[SCORES][0][:unseen] == sorted(out[SCORES][0][:unseen],
                                             reverse=True)
    assert out[SCORES][0][unseen:] == [-np.inf] * (rated + 3)


@pytest.mark.e2e  # the tiny pipeline runs' pushed models
def test_an_empty_batch_gives_empty_lists(served):
    out = served.topk(user_id=tf.zeros([0], tf.int64),
                      k=tf.constant(4, tf.int32))
    assert out[ITEMS].shape == out[SCORES].shape == (0, 4)


@pytest.mark.e2e  # the tiny pipeline runs' pushed models
def test_tables_are_variables_not_graph_constants(served):
    from test_model import _graph_constants
    reader = tf.train.load_checkpoint(
        os.path.join(served.model_dir, "variables", "variables"))
    saved = [reader.get_tensor(name)
             for name in reader.get_variable_to_shape_map()]
    catalog = np.unique(served.train[features.ITEM_KEY])
    pairs = served.train[[features.USER_KEY, features.ITEM_KEY]]
    seen = np.searchsorted(catalog, pairs.drop_duplicates().sort_values(
        [features.USER_KEY, features.ITEM_KEY])[features.ITEM_KEY])

    def holds(values, array):
        return any(np.shape(value) == np.shape(array)
                   and np.array_equal(value, array) for value in values)
    assert holds(saved, catalog) and holds(saved, seen)
    constants = list(_graph_constants(served.model_dir))
    assert constants and not holds(constants, catalog)
    assert not holds(constants, seen)


# ----------------------------------------------------- TF Serving requests


def docs_block(marker: str) -> str:
    """The fenced code block right after the HTML comment naming `marker`
    in docs/serving.md."""
    text = DOCS.read_text()
    found = re.search(re.escape(marker) + r".*?-->\s*```\w*\n(.*?)```",
                      text, re.S)
    assert found, f"no block after {marker!r} in {DOCS}"
    return found.group(1)


def signature_def(model_dir):
    from tensorflow.python.tools import saved_model_utils
    return saved_model_utils.get_meta_graph_def(
        model_dir, "serve").signature_def[TOPK]


def check_against_signature(inputs, definition):
    """TensorProtos by input name against a signature_def, as TF Serving
    checks a request: the same names, dtypes, and shapes the declared ones
    admit (-1: any size)."""
    assert set(inputs) == set(definition.inputs)
    for name, proto in inputs.items():
        declared = definition.inputs[name]
        assert proto.dtype == declared.dtype, name
        dims = [dim.size for dim in declared.tensor_shape.dim]
        shape = [dim.size for dim in proto.tensor_shape.dim]
        assert len(shape) == len(dims), name
        assert all(want in (-1, got) for want, got in zip(dims, shape)), name


@pytest.mark.e2e  # the tiny pipeline runs' pushed models
def test_signature_def_is_what_docs_say(served):
    definition = signature_def(served.model_dir)
    inputs = {name: (tf.as_dtype(info.dtype).name,
                     [dim.size for dim in info.tensor_shape.dim])
              for name, info in definition.inputs.items()}
    assert inputs == {"user_id": ("int64", [-1]), "k": ("int32", [])}
    outputs = {name: (tf.as_dtype(info.dtype).name,
                      [dim.size for dim in info.tensor_shape.dim])
               for name, info in definition.outputs.items()}
    assert outputs == {"item_ids": ("int64", [-1, -1]),
                       "scores": ("float32", [-1, -1]),
                       "predictions": ("float32", [-1, -1])}
    # Beside the pair signatures.
    assert {model.SERVING_SIGNATURE, model.RAW_SIGNATURE, TOPK} <= set(
        served.loaded.signatures)


@pytest.mark.e2e  # the tiny pipeline runs' pushed models
def test_the_documented_grpc_request_fits_and_serves(served):
    from tensorflow_serving.apis import predict_pb2
    namespace = {}
    exec(docs_block("serving_topk gRPC request"), namespace)
    users = np.unique(served.train[features.USER_KEY])[:3].tolist()
    request = namespace["topk_request"](users, 5)
    assert isinstance(request, predict_pb2.PredictRequest)
    assert request.model_spec.signature_name == TOPK
    # Through the wire format, as a server receives it.
    request = predict_pb2.PredictRequest.FromString(
        request.SerializeToString())
    check_against_signature(request.inputs, signature_def(served.model_dir))
    decoded = {name: tf.constant(tf.make_ndarray(proto))
               for name, proto in request.inputs.items()}
    out = {name: value.numpy().tolist()
           for name, value in served.topk(**decoded).items()}
    assert out == call(served.topk, users, 5)


@pytest.mark.e2e  # the tiny pipeline runs' pushed models
def test_the_documented_rest_body_fits_and_serves(served):
    body = json.loads(docs_block("serving_topk REST body"))
    assert body["signature_name"] == TOPK and "instances" not in body
    definition = signature_def(served.model_dir)
    # JSON values as TF Serving's columnar format reads them: each input
    # with its declared dtype.
    tensors = {name: tf.make_tensor_proto(
        value, dtype=tf.as_dtype(definition.inputs[name].dtype))
        for name, value in body["inputs"].items()}
    check_against_signature(tensors, definition)
    assert all(isinstance(user, int) for user in body["inputs"]["user_id"])
    out = served.topk(**{name: tf.constant(tf.make_ndarray(proto))
                         for name, proto in tensors.items()})
    assert out[ITEMS].shape == (len(body["inputs"]["user_id"]),
                                body["inputs"]["k"])


@pytest.mark.e2e  # the tiny pipeline runs' pushed models
def test_a_row_format_request_does_not_fit(served):
    # "instances" gives k one value per user: a [n] tensor, refused.
    tensors = {"user_id": tf.make_tensor_proto([196, 7], dtype=tf.int64),
               "k": tf.make_tensor_proto([10, 10], dtype=tf.int32)}
    with pytest.raises(AssertionError, match="k"):
        check_against_signature(tensors, signature_def(served.model_dir))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="should be a scalar"):
        served.topk(user_id=tf.constant([196, 7], tf.int64),
                    k=tf.constant([10, 10], tf.int32))
