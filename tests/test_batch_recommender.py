"""BatchRecommender: the executor on tiny examples and a fake model whose
ranking is known, then what the tiny pipeline run published.

Data (k = 2), 4 users x 6 movies:
  train: u1: i1 i2 i6 | u2: i4 i6 | u3: i2 i5 i6
  eval:  u1: i3 i5    | u2: i1    | u3: i4  | u4: i2 i3
  u4 is only in eval (every movie unseen), i3 only in eval.
The fake model scores (user, movie) by TABLE; each user's train movies
score 100, so ranking one of them would top its list.

  u1 unseen {3, 4, 5}: 0.5, 2.25, 2.25 -> i4, i5 (a tie: the smaller id)
  u2 unseen {1, 2, 3, 5}: -1.5, 3, 1, 4.5 -> i5, i2
  u3 unseen {1, 3, 4}: 0.1, 0.2, 0.3 -> i4, i3
  u4 unseen {1..6}: 8, 0, 0, 0, 0, 9 -> i6, i1
Titles from an items file that has no i5 (its title stays empty) and
quotes i3's comma; genres from the examples (i2 and i5 have none).
"""
import os

import apache_beam as beam
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions
from tfx.dsl.components.base import base_beam_executor
from tfx.types import standard_artifacts

from components.batch_recommender import executor, recommend
from components.batch_recommender.component import BatchRecommender
from pipeline import configs
from recommender import data
from topk_fixtures import save_table_model, write_examples_artifact
from movielens_features import GENRES_KEY, ITEM_KEY, USER_KEY

K = 2
GENRES = {1: b"Comedy", 2: None, 3: b"Drama|War", 4: b"Action", 5: None,
          6: b"Horror"}
TRAIN = {1: [1, 2, 6], 2: [4, 6], 3: [2, 5, 6]}
EVAL = {1: [3, 5], 2: [1], 3: [4], 4: [2, 3]}
ITEMS_CSV = ("item_id,title,genres\n"
             "1,Toy Story,Animation|Children's|Comedy\n"
             "2,GoldenEye,Action|Adventure|Thriller\n"
             "3,\"Shawshank Redemption, The\",Drama\n"
             "4,Get Shorty,Action|Comedy|Drama\n"
             "6,Cop Land,Crime|Drama|Mystery\n")
PUSHED_VERSION = "1700000000"
PUSHED_MODEL_ID = 11

TABLE = np.zeros((5, 7), np.float32)
TABLE[1, [3, 4, 5]] = [0.5, 2.25, 2.25]
TABLE[2, [1, 2, 3, 5]] = [-1.5, 3.0, 1.0, 4.5]
TABLE[3, [1, 3, 4]] = [0.1, 0.2, 0.3]
TABLE[4, [1, 6]] = [8.0, 9.0]
for _user, _items in TRAIN.items():
    TABLE[_user, _items] = 100.0

# By hand, from the ranking above.
EXPECTED_CSV = (
    "user_id,rank,item_id,title,genres,score\n"
    "1,1,4,Get Shorty,Action,2.25\n"
    "1,2,5,,,2.25\n"
    "2,1,5,,,4.5\n"
    "2,2,2,GoldenEye,,3.0\n"
    "3,1,4,Get Shorty,Action,0.3\n"
    "3,2,3,\"Shawshank Redemption, The\",Drama|War,0.2\n"
    "4,1,6,Cop Land,Horror,9.0\n"
    "4,2,1,Toy Story,Comedy,8.0\n")


def _rows(lists, start):
    return [(user, item, 4.0, GENRES[item], start + n)
            for n, (user, item) in enumerate(
                (user, item) for user, items in lists.items()
                for item in items)]


def in_memory_pipeline() -> beam.Pipeline:
    # Beam arguments would make TFX build an sdist of itself.
    return beam.Pipeline(options=PipelineOptions([
        "--direct_running_mode=in_memory", "--direct_num_workers=1"]))


def pushed_model(path: str, pushed: bool = True
                 ) -> standard_artifacts.PushedModel:
    """A PushedModel as the AtomicPusher records one."""
    artifact = standard_artifacts.PushedModel()
    artifact.set_int_custom_property("pushed", int(pushed))
    if pushed:
        artifact.set_string_custom_property("pushed_destination", path)
        artifact.set_string_custom_property("pushed_version", PUSHED_VERSION)
        artifact.set_int_custom_property("pushed_model_id", PUSHED_MODEL_ID)
    return artifact


def run_executor(root, name, pushed, examples, **params):
    """One Executor.Do; the output artifact."""
    output = standard_artifacts.InferenceResult()
    output.uri = str(root / name / "recommendations")
    os.makedirs(output.uri)  # as the launcher makes it
    context = base_beam_executor.BaseBeamExecutor.Context(
        tmp_dir=str(root / name / "tmp"), unique_id=name,
        make_beam_pipeline_fn=in_memory_pipeline)
    executor.Executor(context=context).Do(
        {"pushed_model": [pushed], "examples": [examples]},
        {"recommendations": [output]},
        {"top_k": K, "train_split": "train", "eval_split": "eval", **params})
    return output


def read_tfrecord(path: str) -> pd.DataFrame:
    spec = {name: tf.io.FixedLenFeature([], kind) for name, kind in [
        (USER_KEY, tf.int64), (recommend.RANK_KEY, tf.int64),
        (ITEM_KEY, tf.int64), (recommend.TITLE_KEY, tf.string),
        (GENRES_KEY, tf.string), (recommend.SCORE_KEY, tf.float32)]}
    rows = [tf.io.parse_single_example(record, spec)
            for record in tf.data.TFRecordDataset([path])]
    return pd.DataFrame({name: [row[name].numpy() for row in rows]
                         for name in recommend.COLUMNS})


def read_csv(path: str) -> pd.DataFrame:
    return pd.read_csv(path, dtype={recommend.TITLE_KEY: str, GENRES_KEY: str,
                                    recommend.SCORE_KEY: np.float32},
                       keep_default_na=False)


# -------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("batch_recommender")


@pytest.fixture(scope="module")
def examples(root):
    return write_examples_artifact(root / "examples", {
        "train": _rows(TRAIN, 0), "eval": _rows(EVAL, 100)})


@pytest.fixture(scope="module")
def model_dir(root):
    return save_table_model(str(root / "serving" / PUSHED_VERSION), TABLE)


@pytest.fixture(scope="module")
def items_csv(root):
    path = root / "data" / "tiny-items.csv"
    path.parent.mkdir()
    path.write_text(ITEMS_CSV)
    return str(path)


@pytest.fixture(scope="module")
def pushed_run(root, examples, model_dir, items_csv):
    return run_executor(root, "pushed", pushed_model(model_dir), examples,
                        items_path=items_csv)


# ------------------------------------------------------------- executor


def test_csv_rows_are_each_users_top_k_by_hand(pushed_run):
    with open(os.path.join(pushed_run.uri, recommend.CSV_FILE)) as handle:
        assert handle.read() == EXPECTED_CSV
    # Nothing else is left in the artifact: no partial file.
    assert sorted(os.listdir(pushed_run.uri)) == [recommend.CSV_FILE,
                                                  recommend.TFRECORD_FILE]


def test_tfrecord_holds_the_csv_rows(pushed_run):
    records = read_tfrecord(os.path.join(pushed_run.uri,
                                         recommend.TFRECORD_FILE))
    csv = read_csv(os.path.join(pushed_run.uri, recommend.CSV_FILE))
    for text in (recommend.TITLE_KEY, GENRES_KEY):
        records[text] = [value.decode() for value in records[text]]
    assert len(records) == len(csv) == 8
    for name in recommend.COLUMNS:
        assert records[name].tolist() == csv[name].tolist(), name


def test_no_train_movie_is_recommended(pushed_run):
    csv = read_csv(os.path.join(pushed_run.uri, recommend.CSV_FILE))
    listed = set(zip(csv[USER_KEY], csv[ITEM_KEY]))
    train = {(user, item) for user, items in TRAIN.items() for item in items}
    assert listed and not listed & train
    # Every user of either split has k movies (u4 only in eval too).
    assert csv.groupby(USER_KEY).size().to_dict() == {1: K, 2: K, 3: K, 4: K}


def test_the_artifact_records_the_batch_and_the_served_model(
        pushed_run, model_dir, items_csv):
    properties = {name: pushed_run.get_custom_property(name) for name in (
        executor.RECOMMENDED_KEY, executor.K_KEY, executor.USERS_KEY,
        executor.ROWS_KEY, executor.MODEL_URI_KEY, executor.MODEL_VERSION_KEY,
        executor.MODEL_ID_KEY, executor.TITLES_KEY)}
    assert properties == {
        "recommended": 1, "k": K, "users": 4, "rows": 8,
        "model_uri": model_dir, "model_version": PUSHED_VERSION,
        "model_id": PUSHED_MODEL_ID, "titles": items_csv}


def test_one_user_per_shard_writes_the_same_files(pushed_run, root, examples,
                                                  model_dir, items_csv):
    output = root / "four_shards"
    summary = recommend.recommend(
        data.read_split(examples, "train"), data.read_split(examples, "eval"),
        model_dir, K, recommend.read_titles(items_csv), in_memory_pipeline,
        str(root / "four_shards_tmp"), str(output), max_pairs_per_shard=6)
    assert summary == recommend.Summary(users=4, rows=8, shards=4)
    for name in (recommend.CSV_FILE, recommend.TFRECORD_FILE):
        assert (output / name).read_bytes() == (
            root / "pushed" / "recommendations" / name).read_bytes()
    # The shards' part files are gone.
    assert not os.path.exists(root / "four_shards_tmp" /
                              "recommendation_parts")


def test_nothing_pushed_writes_no_lists_and_says_so(root):
    # Examples that do not exist: nothing is read either.
    missing = standard_artifacts.Examples()
    missing.uri = str(root / "no_examples")
    output = run_executor(root, "not_pushed", pushed_model("", pushed=False),
                          missing)
    assert os.listdir(output.uri) == []
    assert output.get_int_custom_property("recommended") == 0
    assert output.get_int_custom_property("k") == K
    assert not output.has_custom_property("model_version")


def test_no_items_file_leaves_titles_empty(root, examples, model_dir):
    output = run_executor(root, "no_titles", pushed_model(model_dir),
                          examples, items_path=str(root / "absent.csv"))
    csv = read_csv(os.path.join(output.uri, recommend.CSV_FILE))
    assert set(csv[recommend.TITLE_KEY]) == {""}
    assert csv[GENRES_KEY].tolist() == [
        "Action", "", "", "", "Action", "Drama|War", "Horror", "Comedy"]
    assert output.get_string_custom_property("titles") == ""


@pytest.mark.parametrize("params,message", [
    ({"top_k": 0}, "top_k must be a positive integer (movies recommended per "
                   "user), got 0"),
    ({"top_k": True}, "top_k must be a positive integer (movies recommended "
                      "per user), got True"),
    ({"top_k": "10"}, "top_k must be a positive integer (movies recommended "
                      "per user), got '10'"),
    ({"eval_split": "train"},
     "train_split and eval_split must differ, both are 'train'"),
], ids=["k 0", "k bool", "k text", "same splits"])
def test_bad_parameters_are_refused_by_name(params, message):
    with pytest.raises(ValueError) as caught:
        executor.parse_parameters({"top_k": K, "train_split": "train",
                                   "eval_split": "eval", **params})
    assert str(caught.value) == message
    # When the pipeline is built, not after the training.
    with pytest.raises(ValueError, match="must"):
        BatchRecommender(
            pushed_model=_channel(standard_artifacts.PushedModel),
            examples=_channel(standard_artifacts.Examples),
            **{"train_split": "train", "eval_split": "eval", **params})


@pytest.mark.parametrize("text,message", [
    ("item_id,name\n1,Toy Story\n", "has no column(s) ['title'] (it has "
                                    "['item_id', 'name'])"),
    ("item_id,title\n1,Toy Story\nx,GoldenEye\n",
     ", line 3: item_id 'x' is not an integer"),
], ids=["no title column", "bad id"])
def test_a_bad_items_file_is_refused_by_name(tmp_path, text, message):
    path = tmp_path / "bad-items.csv"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        recommend.read_titles(str(path))
    assert str(caught.value).startswith(f"the items file {path}")
    assert message in str(caught.value)


def test_the_pipeline_finds_titles_where_the_data_command_writes_them(
        tmp_path):
    from movielens_data.output import items_csv_path
    folder = tmp_path / "ml-100k"
    assert configs.items_csv_path(str(folder)) == str(items_csv_path(folder))
    # A cluster's data root is a URL (pathlib would fold its "//").
    assert configs.items_csv_path("gs://bucket/data/ml-1m/") == (
        "gs://bucket/data/ml-1m-items.csv")


def _channel(artifact_type):
    from tfx import types
    return types.Channel(type=artifact_type)


# ---------------------------------------------- the tiny pipeline run


@pytest.fixture(scope="module")
def published(tiny_pipeline_run):
    """The tiny run's store, its recommendations artifact and CSV."""
    from runtime import metadata_report
    store = metadata_report.open_existing_store(
        tiny_pipeline_run.metadata_path)
    artifact = metadata_report.latest_output(
        store, configs.BATCH_RECOMMENDER_ID, "recommendations")
    csv = read_csv(os.path.join(artifact.uri, recommend.CSV_FILE))
    return {"store": store, "artifact": artifact, "csv": csv}


def test_pipeline_records_the_lists_of_the_pushed_model(published,
                                                        tiny_pipeline_run):
    from runtime import metadata_report
    artifact, store = published["artifact"], published["store"]
    [artifact_type] = store.get_artifact_types_by_id([artifact.type_id])
    assert artifact_type.name == "InferenceResult"
    properties = {name: value.int_value or value.string_value
                  for name, value in artifact.custom_properties.items()}
    [version] = os.listdir(tiny_pipeline_run.serving_dir)
    pushed = metadata_report.latest_output(store, configs.PUSHER_ID,
                                           "pushed_model")
    assert properties["recommended"] == 1
    assert properties["model_version"] == version
    assert properties["model_uri"] == metadata_report.latest_pushed_model(
        store) == str(tiny_pipeline_run.serving_dir / version)
    assert properties["model_id"] == pushed.custom_properties[
        "pushed_model_id"].int_value
    # 60 users, 80 movies: every user has k unseen ones.
    assert properties["k"] == configs.RECOMMENDATIONS_K
    assert (properties["users"], properties["rows"]) == (60, 600)
    assert len(published["csv"]) == 600


def test_pipeline_lists_are_the_topk_evaluators_ranking(published,
                                                        tiny_pipeline_run):
    """The served model's lists, against a brute-force ranking of every
    unseen pair (pandas, ties to the smaller id) and against the
    TopKEvaluator's own metrics of the same model."""
    from components.topk_evaluator.executor import read_evaluation
    from recommender import metrics
    from recommender.scoring import ModelScorer
    from runtime import metadata_report
    store, csv = published["store"], published["csv"]
    examples = metadata_report.latest_examples(store)
    train = data.read_split(examples, "train")
    eval_ = data.read_split(examples, "eval")
    genres = dict(zip(csv[ITEM_KEY], csv[GENRES_KEY]))
    users = np.union1d(train[USER_KEY], eval_[USER_KEY])
    movies = np.union1d(train[ITEM_KEY], eval_[ITEM_KEY])
    pool = pd.DataFrame([(u, i) for u in users for i in movies],
                        columns=[USER_KEY, ITEM_KEY]).merge(
        train[[USER_KEY, ITEM_KEY]].drop_duplicates(), how="left",
        indicator=True)
    pool = pool[pool["_merge"] == "left_only"].drop(columns="_merge")
    catalog_genres = (pd.concat([train, eval_]).groupby(ITEM_KEY)[GENRES_KEY]
                      .agg(lambda values: max(values, key=lambda g: (len(g),
                                                                     g))))
    scorer = ModelScorer(published["artifact"].custom_properties[
        "model_uri"].string_value)
    pool["score"] = scorer.predict(
        pool[USER_KEY].to_numpy(np.int64), pool[ITEM_KEY].to_numpy(np.int64),
        catalog_genres.loc[pool[ITEM_KEY]].to_numpy(object))[1]
    best = (pool.sort_values([USER_KEY, "score", ITEM_KEY],
                             ascending=[True, False, True])
            .groupby(USER_KEY).head(configs.RECOMMENDATIONS_K))
    assert list(zip(csv[USER_KEY], csv[ITEM_KEY])) == list(
        zip(best[USER_KEY], best[ITEM_KEY]))
    np.testing.assert_array_equal(csv[recommend.SCORE_KEY].to_numpy(),
                                  best["score"].to_numpy(np.float32))
    assert all(genres[item] == catalog_genres[item].decode()
               for item in genres)
    # The same lists give the TopKEvaluator's metrics of this model.
    top = metrics.TopK(csv[USER_KEY].to_numpy(), csv[ITEM_KEY].to_numpy(),
                       csv[recommend.RANK_KEY].to_numpy(),
                       configs.RECOMMENDATIONS_K)
    ours = metrics.finalize_ranking_metrics(metrics.ranking_partial_sums(
        top, eval_[USER_KEY].to_numpy(), eval_[ITEM_KEY].to_numpy()))
    evaluated = read_evaluation(metadata_report.latest_evaluation_uri(
        store, configs.TOPK_EVALUATOR_ID))["model"]
    for name in metrics.RANKING_METRIC_NAMES:
        assert ours[name] == pytest.approx(evaluated[name], rel=1e-9), name
