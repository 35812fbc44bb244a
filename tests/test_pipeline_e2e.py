"""The whole pipeline, as a user runs it: local_runner.py on small synthetic data.

One module fixture makes these runs, in order:
  1. first run             -> every component executes once, model X pushed
  2. same run again        -> the baseline resolver now finds X, so the two
                              evaluators and the Pusher run again (TFX's
                              LatestBlessedModelStrategy semantics); X is its
                              own baseline, so it is not pushed a second time
  3. same run a third time -> everything comes from the cache
  4. new model Y, impossible ndcg threshold -> TFMA blesses Y, the
                              TopKEvaluator does not, nothing is pushed, the
                              served model stays byte for byte as it was
  5. new model Z           -> its baseline is X, the last model the
                              TopKEvaluator blessed, not Y
Bad data through the pipeline is in test_reliability.py.
"""
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma

from conftest import (TINY_MODEL_FLAGS, PipelineRun, run_local_runner,
                      tree_digest, write_synthetic_data)
from pipeline import metadata_report
from trainer_module import features
from trainer_module.model import PREDICTION_KEY, SERVING_SIGNATURE

COMPONENTS = ["CsvExampleGen", "StatisticsGen", "ImportSchemaGen",
              "ExampleValidator", "AnomaliesGate", "Transform", "Trainer",
              "latest_blessed_model_resolver", "Evaluator", "TopKEvaluator",
              "Pusher"]


def run_local(run, *extra):
    """The tiny model's flags; later flags override them."""
    return run_local_runner(run, *TINY_MODEL_FLAGS, *extra)


def artifact_id(store, component, key):
    return metadata_report.latest_output(store, component, key).id


def topk_baseline_id(store):
    blessing = metadata_report.latest_output(store, "TopKEvaluator",
                                             "blessing")
    return blessing.custom_properties["baseline_model_id"].int_value


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    run = PipelineRun(base / "data" / "synthetic", base / "outputs", "e2e")
    write_synthetic_data(run.data_dir)
    serving_dir = run.serving_dir
    results = {"serving_dir": serving_dir}

    results["first"] = run_local(run)
    store = metadata_report.open_store(run.metadata_path)
    results["first_steps"] = metadata_report.component_runs(store)
    results["first_counts"] = metadata_report.executions_per_component(store)
    results["first_versions"] = sorted(os.listdir(serving_dir))
    results["first_serving_digest"] = tree_digest(serving_dir)
    results["model_x"] = artifact_id(store, "Trainer", "model")
    results["first_tfma_uri"] = metadata_report.latest_evaluation_uri(store)

    results["second"] = run_local(run)
    results["second_steps"] = metadata_report.component_runs(store)
    results["second_blessing"] = metadata_report.latest_blessing(store)
    results["second_serving_digest"] = tree_digest(serving_dir)
    results["cached"] = run_local(run)
    results["cached_steps"] = metadata_report.component_runs(store)

    results["strict"] = run_local(run, "--train-steps", "61",
                                  "--min-ndcg", "1.0")
    results["strict_steps"] = metadata_report.component_runs(store)
    results["strict_tfma_blessing"] = metadata_report.latest_blessing(
        store, "Evaluator")
    results["strict_blessing"] = metadata_report.latest_blessing(store)
    results["strict_baseline"] = topk_baseline_id(store)
    results["strict_serving_digest"] = tree_digest(serving_dir)

    results["retrain"] = run_local(run, "--train-steps", "62")
    results["retrain_baseline"] = topk_baseline_id(store)

    return results


def _succeeded(result):
    assert result.returncode == 0, result.stdout + result.stderr


def test_first_run_executes_every_component_once(runs):
    _succeeded(runs["first"])
    assert runs["first_counts"] == {name: 1 for name in COMPONENTS}
    assert {s.component for s in runs["first_steps"]} == set(COMPONENTS)
    assert all(s.state == "COMPLETE" for s in runs["first_steps"])


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
    for name in COMPONENTS:
        if name != "latest_blessed_model_resolver":
            assert f"{name} done" in runs["first"].stdout


def test_second_run_reevaluates_but_does_not_push_the_same_model_again(runs):
    _succeeded(runs["second"])
    rerun = {s.component for s in runs["second_steps"]
             if s.state == "COMPLETE"}
    assert rerun == {"latest_blessed_model_resolver", "Evaluator",
                     "TopKEvaluator", "Pusher"}
    assert runs["second_blessing"] is False
    assert "already the latest blessed model" in runs["second"].stdout
    assert runs["second_serving_digest"] == runs["first_serving_digest"]


def test_third_identical_run_is_fully_cached(runs):
    _succeeded(runs["cached"])
    states = {s.component: s.state for s in runs["cached_steps"]}
    # The resolver re-resolves every run; every component is a cache hit.
    del states["latest_blessed_model_resolver"]
    assert states == {name: "CACHED" for name in COMPONENTS
                      if name != "latest_blessed_model_resolver"}
    assert "reused from cache" in runs["cached"].stdout


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


def test_baseline_is_the_last_model_the_pusher_gate_blessed(runs):
    _succeeded(runs["retrain"])
    # Y was blessed by TFMA only; the baseline stays X.
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
