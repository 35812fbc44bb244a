"""The ranking objective end to end: `local_runner.py --objective ranking` on
the tiny synthetic data (the shared `tiny_ranking_run`).

What a user relies on: Transform sees only the ratings (every one a
positive, label 1), the Trainer samples the negatives as it reads them, the
NegativeSampler gives TFMA the eval ratings with sampled negatives, the
classifier is judged by AUC (TFMA) and by top-k ranking without rating
metrics (the TopKEvaluator), and the served model returns a probability and
a logit.
"""
import glob
import json
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2

from tfx.types import artifact_utils

from conftest import TINY_RANKING_FLAGS
from components.negative_sampler import splits
from pipeline import configs
from components.stratified_example_gen import splitting
from components.topk_evaluator.executor import (RATING_METRIC_NAMES,
                                                read_evaluation)
from recommender import data
from runtime import metadata_report
import movielens_features as features
from trainer_module.model import (PREDICTION_KEY, RAW_SIGNATURE, SCORE_KEY,
                                  SERVING_SIGNATURE)
from trainer_module.objectives import ranking

EVAL_NEGATIVES = ranking.EVAL_NEGATIVES_PER_POSITIVE


@pytest.fixture(scope="module")
def store(tiny_ranking_run):
    return metadata_report.open_existing_store(tiny_ranking_run.metadata_path)


def _count(uri, split):
    files = glob.glob(os.path.join(uri, f"Split-{split}", "*"))
    return sum(1 for _ in tf.data.TFRecordDataset(files,
                                                  compression_type="GZIP"))


def test_every_component_ran_once_with_the_sampler(store):
    steps = metadata_report.component_runs(store)
    assert {s.component: s.state for s in steps}["NegativeSampler"] == \
        "COMPLETE"
    assert all(s.state == "COMPLETE" for s in steps)


def test_user_stratified_split_puts_three_quarters_of_each_user_in_train(
        store, tiny_ranking_run):
    raw = metadata_report.latest_output(store, "CsvExampleGen", "examples")
    train, held_out = (data.read_examples(glob.glob(
        os.path.join(raw.uri, f"Split-{split}", "*"))).groupby(
            features.USER_KEY).size() for split in ("train", "eval"))
    every = pd.read_csv(tiny_ranking_run.data_dir / "ratings.csv").groupby(
        features.USER_KEY).size()
    assert (every >= 2).all()  # so every user must be in both splits
    assert train.to_dict() == {user: splitting.num_train(count, 0.75)
                               for user, count in every.items()}
    assert held_out.to_dict() == (every - train).to_dict()


def test_sampler_writes_only_the_eval_split_with_its_negatives(store):
    raw = metadata_report.latest_output(store, "CsvExampleGen", "examples")
    sampled = metadata_report.latest_output(store, "NegativeSampler",
                                            "sampled_examples")
    assert artifact_utils.decode_split_names(
        sampled.properties["split_names"].string_value) == [splits.EVAL]
    assert _count(sampled.uri, "eval") == _count(raw.uri, "eval") * (
        1 + EVAL_NEGATIVES)


def test_transform_and_trainer_read_the_ratings_alone(store):
    raw = metadata_report.latest_output(store, "CsvExampleGen", "examples")
    transformed = metadata_report.latest_output(store, "Transform",
                                                "transformed_examples")
    assert artifact_utils.decode_split_names(
        transformed.properties["split_names"].string_value) == [
            "train", "eval"]
    for split in ("train", "eval"):
        assert _count(transformed.uri, split) == _count(raw.uri, split)
    trainer = [e for e in store.get_executions()
               if metadata_report.component_name(store, e) == "Trainer"][-1]
    assert json.loads(trainer.custom_properties["train_args"].string_value) == {
        "splits": ["train"]}


def test_transform_labels_every_rating_one(store):
    transformed = metadata_report.latest_output(store, "Transform",
                                                "transformed_examples")
    files = glob.glob(os.path.join(transformed.uri, "Split-train", "*"))
    assert files
    label = features.transformed_name(features.LABEL_KEY)
    labels = np.array([
        tf.train.Example.FromString(record.numpy()).features.feature[
            label].float_list.value[0]
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP")])
    assert set(np.unique(labels)) == {1.0}


def test_trainer_history_is_each_users_train_ratings(store):
    """The table the Trainer builds (and never samples a negative from)
    holds exactly the raw train split's pairs."""
    import tensorflow_transform as tft
    from trainer_module import history
    transformed = metadata_report.latest_output(store, "Transform",
                                                "transformed_examples")
    graph = metadata_report.latest_output(store, "Transform",
                                          "transform_graph")
    output = tft.TFTransformOutput(graph.uri)
    users, items = history.read_positive_pairs(
        [os.path.join(transformed.uri, "Split-train", "*")], output)
    raw = metadata_report.latest_output(store, "CsvExampleGen", "examples")
    train = data.read_examples(glob.glob(os.path.join(raw.uri, "Split-train",
                                                      "*")))
    assert len(users) == len(train)
    vocab = {name: {int(value): index for index, value in enumerate(
        output.vocabulary_by_name(name))} for name in
        (features.USER_VOCAB_NAME, features.ITEM_VOCAB_NAME)}
    expected = {(vocab[features.USER_VOCAB_NAME][user],
                 vocab[features.ITEM_VOCAB_NAME][item])
                for user, item in zip(train[features.USER_KEY],
                                      train[features.ITEM_KEY])}
    table = history.build_user_history(users, items, len(vocab[
        features.USER_VOCAB_NAME]) + features.NUM_OOV_BUCKETS)
    assert {(user, int(item)) for user in range(len(table.row_splits) - 1)
            for item in table.items[table.row_splits[user]:
                                    table.row_splits[user + 1]]} == expected


def test_tfma_judges_auc_not_rating_error(store):
    result = tfma.load_eval_result(metadata_report.latest_evaluation_uri(store))
    overall = dict(result.slicing_metrics)[()][""][""]
    assert 0.0 <= overall["auc"]["doubleValue"] <= 1.0
    assert overall["mean_label"]["doubleValue"] == pytest.approx(
        1 / (1 + EVAL_NEGATIVES))
    assert "root_mean_squared_error" not in overall


def test_topk_evaluation_has_no_rating_metrics(store):
    evaluation = read_evaluation(
        metadata_report.latest_evaluation_uri(store, "TopKEvaluator"))
    assert not set(RATING_METRIC_NAMES) & set(evaluation["model"])
    assert 0.0 <= evaluation["model"]["ndcg@k"] <= 1.0
    assert evaluation["blessing"]["blessed"] is True
    assert metadata_report.latest_blessing(store) is True


def test_served_model_returns_probability_and_logit(tiny_ranking_run, store):
    raw = metadata_report.latest_output(store, "CsvExampleGen", "examples")
    train = data.read_examples(glob.glob(
        os.path.join(raw.uri, "Split-train", "*"))).head(20)
    [version] = os.listdir(tiny_ranking_run.serving_dir)
    model = tf.saved_model.load(
        os.path.join(tiny_ranking_run.serving_dir, version))
    raw = model.signatures[RAW_SIGNATURE](
        user_id=tf.constant(train[features.USER_KEY].to_numpy(np.int64)),
        item_id=tf.constant(train[features.ITEM_KEY].to_numpy(np.int64)),
        genres=tf.constant(train[features.GENRES_KEY].to_numpy(object)))
    probability = raw[PREDICTION_KEY].numpy()
    assert np.all((probability >= 0) & (probability <= 1))
    np.testing.assert_allclose(
        probability, 1 / (1 + np.exp(-raw[SCORE_KEY].numpy())), rtol=1e-5)
    assert SERVING_SIGNATURE in model.signatures


def test_stop_after_trainer_exports_a_model_and_evaluates_nothing(tmp_path):
    """`--stop-after Trainer` (a TFX partial run): what the Trainer needs
    runs, the exported model (its history tables among its variables) loads
    and scores, and nothing evaluates or pushes."""
    from conftest import (TINY_MODEL_FLAGS, PipelineRun, run_local_runner,
                          write_synthetic_data)
    run = PipelineRun(tmp_path / "data", tmp_path / "outputs", "partial")
    write_synthetic_data(run.data_dir)
    result = run_local_runner(run, *TINY_RANKING_FLAGS,
                              "--stop-after", configs.TRAINER_ID)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stopped after Trainer" in result.stdout
    store = metadata_report.open_existing_store(run.metadata_path)
    ran = set(metadata_report.executions_per_component(store))
    assert {configs.EXAMPLE_GEN_ID, configs.TRANSFORM_ID,
            configs.TRAINER_ID} <= ran
    assert ran.isdisjoint({configs.NEGATIVE_SAMPLER_ID, configs.EVALUATOR_ID,
                           configs.TOPK_EVALUATOR_ID, configs.PUSHER_ID})
    assert not run.serving_dir.exists() or not os.listdir(run.serving_dir)
    model = metadata_report.latest_output(store, configs.TRAINER_ID, "model")
    loaded = tf.saved_model.load(os.path.join(model.uri, "Format-Serving"))
    scores = loaded.signatures[RAW_SIGNATURE](
        user_id=tf.constant([1, 2], tf.int64),
        item_id=tf.constant([3, 4], tf.int64),
        genres=tf.constant(["Drama", ""]))[SCORE_KEY].numpy()
    assert scores.shape == (2, 1) and np.isfinite(scores).all()
    # The whole pipeline afterwards takes the Trainer from the cache.
    full = run_local_runner(run, *TINY_RANKING_FLAGS)
    assert full.returncode == 0, full.stdout + full.stderr
    trainer_states = [
        execution.last_known_state for execution in store.get_executions()
        if metadata_report.component_name(store, execution)
        == configs.TRAINER_ID]
    assert sorted(trainer_states) == sorted([
        metadata_store_pb2.Execution.COMPLETE,
        metadata_store_pb2.Execution.CACHED])
    assert os.listdir(run.serving_dir)
    # The rating objective has no NegativeSampler to stop after.
    refused = run_local_runner(run, *TINY_MODEL_FLAGS, "--stop-after",
                               configs.NEGATIVE_SAMPLER_ID)
    assert refused.returncode == 2
    assert "no component 'NegativeSampler'" in refused.stderr
