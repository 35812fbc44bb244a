"""The whole pipeline, as a user runs it: local_runner.py on small synthetic
data, through the runs of pipeline_history.py (a crashed run, then first,
cached, strict, retrain, push_fault, push_retry). Failure cases are in
test_reliability.py.
"""
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma

import movielens_features as features
from trainer_module.model import PREDICTION_KEY, SERVING_SIGNATURE

UPSTREAM = ["CsvExampleGen", "StatisticsGen", "ImportSchemaGen",
            "ExampleValidator", "AnomaliesGate", "Transform"]
RESOLVER = "baseline_model_resolver"
COMPONENTS = [*UPSTREAM, "Trainer", RESOLVER, "Evaluator", "TopKEvaluator",
              "Pusher", "BatchRecommender"]


@pytest.fixture(name="runs")
def fixture_runs(pipeline_history):
    return pipeline_history


def _succeeded(result):
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_component_executed_once_but_the_killed_trainer(runs):
    # The crashed run executed everything up to the Trainer, which the
    # first complete run trained again (the resolver, which reads the
    # Trainer's model, ran only then).
    _succeeded(runs["first"])
    assert runs["first_counts"] == {name: 2 if name == "Trainer" else 1
                                    for name in COMPONENTS}
    states = {s.component: s.state for s in runs["first_steps"]}
    assert states == {name: "CACHED" if name in UPSTREAM else "COMPLETE"
                      for name in COMPONENTS}


def test_first_run_pushes_a_model_that_serves_ratings(runs):
    versions = runs["first_versions"]
    assert len(versions) == 1
    model = tf.saved_model.load(os.path.join(runs["serving_dir"], versions[0]))
    examples = [_example(user, item, genres) for user, item, genres in
                [(1, 1, "Drama"), (2, 3, ""), (999999, 999999, "Action|War")]]
    predictions = model.signatures[SERVING_SIGNATURE](
        tf.constant(examples))[PREDICTION_KEY].numpy()
    assert predictions.shape == (3, 1)
    assert np.all(predictions >= features.RATING_MIN)
    assert np.all(predictions <= features.RATING_MAX)
    # The summary tells the user where the model went.
    assert f"pushed model: {runs['serving_dir']}" in runs["first"].stdout


def test_tfma_evaluation_loads_with_overall_and_per_genre_slices(runs):
    result = tfma.load_eval_result(runs["first_tfma_uri"])
    slices = dict(result.slicing_metrics)
    overall = slices[()][""][""]
    assert overall["example_count"]["doubleValue"] > 0
    assert overall["root_mean_squared_error"]["doubleValue"] == pytest.approx(
        overall["mean_squared_error"]["doubleValue"] ** 0.5, rel=1e-5)
    genres = {key[0][1] for key in slices
              if key and key[0][0] == features.GENRE_SLICE_KEY}
    assert genres and genres <= set(features.GENRES) | {""}


def test_progress_is_reported_per_component(runs):
    for name in UPSTREAM:
        assert f"{name} done" in runs["crash"]["output"]
        assert f"{name} reused from cache" in runs["first"].stdout
    for name in ["Trainer", "Evaluator", "TopKEvaluator", "Pusher",
                 "BatchRecommender"]:
        assert f"{name} done" in runs["first"].stdout


def test_identical_run_right_after_the_push_is_fully_cached(runs):
    _succeeded(runs["cached"])
    states = {s.component: s.state for s in runs["cached_steps"]}
    # The resolver re-resolves every run (to the same baseline); every
    # component is a cache hit, and the served model is reported as such.
    del states[RESOLVER]
    assert states == {name: "CACHED" for name in COMPONENTS
                      if name != RESOLVER}
    assert "reused from cache" in runs["cached"].stdout
    assert runs["cached_blessing"] is True
    assert f"pushed model: {runs['serving_dir']}" in runs["cached"].stdout
    assert runs["cached_serving_digest"] == runs["first_serving_digest"]
    # The served model's recommendations are those of the first run.
    assert runs["cached_recommendations"].id == (
        runs["first_recommendations"].id)


def test_first_run_publishes_the_pushed_versions_recommendations(runs):
    recommendations = runs["first_recommendations"]
    properties = recommendations.custom_properties
    assert properties["recommended"].int_value == 1
    assert properties["model_version"].string_value == (
        runs["first_versions"][0])
    assert properties["model_id"].int_value == runs["model_x"]
    # 60 users, 80 movies: k unseen movies each.
    assert (properties["users"].int_value, properties["rows"].int_value) == (
        60, 600)
    assert sorted(os.listdir(recommendations.uri)) == [
        "recommendations.csv", "recommendations.tfrecord"]


def test_impossible_threshold_pushes_nothing(runs):
    _succeeded(runs["strict"])
    states = {s.component: s.state for s in runs["strict_steps"]}
    # A hyper-parameter changed: a new model, Y, from the cached Transform.
    assert states["Transform"] == "CACHED"
    assert states["Trainer"] == "COMPLETE"
    assert runs["strict_tfma_blessing"] is True
    assert runs["strict_blessing"] is False
    assert "[FAILED] ndcg@k" in runs["strict"].stdout
    assert "not pushed" in runs["strict"].stdout
    assert runs["strict_baseline"] == runs["model_x"]
    assert runs["strict_serving_digest"] == runs["first_serving_digest"]
    # Nothing pushed, so no recommendations, and the run did not fail.
    assert states["BatchRecommender"] == "COMPLETE"
    recommendations = runs["strict_recommendations"]
    assert recommendations.custom_properties["recommended"].int_value == 0
    assert os.listdir(recommendations.uri) == []


def test_baseline_is_the_last_model_served(runs):
    _succeeded(runs["retrain"])
    # Y was blessed by TFMA only, never served; the baseline stays X.
    assert runs["retrain_baseline"] == runs["model_x"]


def _example(user, item, genres):
    feature = {
        features.USER_KEY: tf.train.Feature(
            int64_list=tf.train.Int64List(value=[user])),
        features.ITEM_KEY: tf.train.Feature(
            int64_list=tf.train.Int64List(value=[item])),
        features.GENRES_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[genres.encode()] if genres else [])),
    }
    return tf.train.Example(features=tf.train.Features(
        feature=feature)).SerializeToString()
