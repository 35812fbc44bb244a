"""The user-stratified split (--split user_stratified): CsvExampleGen's CSV
reading, each user's ratings split 75/25 (components/stratified_example_gen).

What a user relies on: every user with 2+ ratings is in both splits with
round(75 %) of them in train (at least 1, at most n - 1), nothing is dropped
or repeated, and the same data and seed give the same split whatever the
order of the rows.
"""
import collections
import glob
import os

import apache_beam as beam
import pytest
import tensorflow as tf
from apache_beam.testing.util import assert_that, equal_to
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.stratified_example_gen import executor, splitting
from pipeline import configs, options
from pipeline.pipeline import create_pipeline
from pipeline.settings import PipelinePaths, Split
import movielens_features as features
from trainer_module.hparams import HParams

# user -> number of ratings, and how many of them train must get:
# round(0.75 n) with halves up, clamped to [1, n - 1] from n = 2.
RATINGS_PER_USER = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8}
EXPECTED_TRAIN = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 6}


def _rows():
    """(user, item, rating, timestamp, genres) rows of RATINGS_PER_USER."""
    return [(user, 100 * user + number, float(1 + number % 5),
             1000 + number, "Drama" if number % 2 else "Comedy|War")
            for user, count in RATINGS_PER_USER.items()
            for number in range(count)]


def _write_csv(folder, rows):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "ratings.csv"), "w") as handle:
        handle.write(",".join(features.CSV_COLUMNS) + "\n")
        for row in rows:
            handle.write(",".join(str(value) for value in row) + "\n")


def _split_config():
    return example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name="train",
                                                  hash_buckets=3),
                example_gen_pb2.SplitConfig.Split(name="eval",
                                                  hash_buckets=1)]))


def _run_executor(data_dir, out_dir, seed=42):
    """The executor's Do, as the component runs it; {split: [rows]}."""
    examples = standard_artifacts.Examples()
    examples.uri = str(out_dir)
    exec_properties = {
        standard_component_specs.INPUT_BASE_KEY: str(data_dir),
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(
            example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(
                name="single_split", pattern="*")])),
        standard_component_specs.OUTPUT_CONFIG_KEY:
            proto_utils.proto_to_json(_split_config()),
        standard_component_specs.CUSTOM_CONFIG_KEY: proto_utils.proto_to_json(
            executor.custom_config(seed, features.USER_KEY)),
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY:
            example_gen_pb2.FORMAT_TF_EXAMPLE,
    }
    executor.Executor().Do({}, {standard_component_specs.EXAMPLES_KEY:
                                [examples]}, exec_properties)
    return {split: _read_rows(os.path.join(out_dir, f"Split-{split}"))
            for split in ("train", "eval")}


def _read_rows(folder):
    rows = []
    files = glob.glob(os.path.join(folder, "*"))
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        rows.append((feature["user_id"].int64_list.value[0],
                     feature["item_id"].int64_list.value[0]))
    return sorted(rows)


@pytest.mark.parametrize("count,train", [
    (0, 0), (1, 1), (2, 1), (3, 2), (4, 3), (5, 4), (6, 5), (7, 5), (8, 6),
    (10, 8), (100, 75)])
def test_train_share_is_three_quarters_rounded_and_leaves_one_for_eval(
        count, train):
    assert splitting.num_train(count, 0.75) == train


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.5, float("nan")])
def test_train_fraction_outside_zero_one_is_refused(fraction):
    with pytest.raises(ValueError, match="train_fraction"):
        splitting.num_train(4, fraction)


def test_a_users_split_does_not_depend_on_row_order():
    rows = list("abcdefgh")
    forward = splitting.split_user_rows(rows, rows, 7, 42, 0.75)
    backward = splitting.split_user_rows(rows[::-1], rows[::-1], 7, 42, 0.75)
    assert forward == backward
    assert sorted(forward[0] + forward[1]) == rows
    assert len(forward[0]) == 6


def test_seed_and_user_change_which_ratings_are_held_out():
    rows = list(range(20))
    held_out = {(seed, user): tuple(sorted(splitting.split_user_rows(
        rows, rows, user, seed, 0.75)[1]))
        for seed in (1, 2, 3) for user in (1, 2, 3)}
    assert len(set(held_out.values())) > 1
    assert all(len(rows) == 5 for rows in held_out.values())


def test_executor_splits_each_user_and_keeps_every_row(tmp_path):
    _write_csv(tmp_path / "data", _rows())
    splits = _run_executor(tmp_path / "data", tmp_path / "out")
    train_counts = collections.Counter(user for user, _ in splits["train"])
    eval_counts = collections.Counter(user for user, _ in splits["eval"])
    assert dict(train_counts) == EXPECTED_TRAIN
    assert dict(eval_counts) == {
        user: RATINGS_PER_USER[user] - EXPECTED_TRAIN[user]
        for user in RATINGS_PER_USER if user != 1}
    assert sorted(splits["train"] + splits["eval"]) == sorted(
        (user, item) for user, item, *_ in _rows())


def test_executor_split_is_the_same_for_shuffled_files_and_differs_by_seed(
        tmp_path):
    rows = _rows()
    _write_csv(tmp_path / "a", rows)
    _write_csv(tmp_path / "b", rows[::-1])
    first = _run_executor(tmp_path / "a", tmp_path / "out_a")
    assert _run_executor(tmp_path / "b", tmp_path / "out_b") == first
    others = [_run_executor(tmp_path / "a", tmp_path / f"out_{seed}", seed)
              for seed in (1, 2, 3)]
    assert any(other != first for other in others)


def test_rows_without_a_user_id_go_to_train_for_the_validator_to_name():
    # Not dropped: the ExampleValidator and the AnomaliesGate report them.
    no_user = tf.train.Example()
    no_user.features.feature["item_id"].int64_list.value.append(5)
    with beam.Pipeline() as pipeline:
        train, evaluation = (
            pipeline | beam.Create([no_user, no_user])
            | executor.StratifiedSplit(features.USER_KEY, 42, 0.75))
        assert_that(train, equal_to([no_user, no_user]), label="train")
        assert_that(evaluation, equal_to([]), label="eval")


@pytest.mark.parametrize("splits,message", [
    ([("train", 3)], "exactly two output splits"),
    ([("train", 3), ("eval", 1), ("test", 1)], "exactly two output splits"),
    ([("train", 0), ("eval", 1)], "must be positive"),
])
def test_split_configs_it_cannot_honour_are_refused(splits, message):
    output = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=b)
                for name, b in splits]))
    single = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(
        name="single_split", pattern="*")])
    with pytest.raises(ValueError, match=message):
        executor.split_plan(single, output)


def test_custom_config_round_trips_the_seed_and_user_column():
    serialized = proto_utils.proto_to_json(
        executor.custom_config(1234567, "user_id", "abc"))
    assert executor.read_custom_config(serialized) == (1234567, "user_id")
    with pytest.raises(ValueError, match="custom_config"):
        executor.read_custom_config(None)


def _example_gen(split, seed=configs.SPLIT_SEED):
    pipeline = create_pipeline(
        pipeline_name="p",
        paths=PipelinePaths("/tmp/root", "/tmp/data", "/tmp/serving"),
        hparams=HParams(), split=Split(kind=split, seed=seed))
    return next(node for node in pipeline.components
                if node.id == configs.EXAMPLE_GEN_ID)


def test_pipeline_ingests_with_the_split_asked_for():
    stratified = _example_gen(configs.USER_STRATIFIED_SPLIT, seed=7)
    assert stratified.executor_spec.executor_class is executor.Executor
    # ExampleGen keeps its custom_config as JSON, as the executor reads it.
    assert executor.read_custom_config(stratified.exec_properties[
        standard_component_specs.CUSTOM_CONFIG_KEY]) == (7, features.USER_KEY)
    random = _example_gen(configs.RANDOM_SPLIT)
    assert random.executor_spec.executor_class is not executor.Executor
    with pytest.raises(ValueError, match="split must be one of"):
        _example_gen("by_time")


def test_split_flags_reach_create_pipeline():
    import argparse
    parser = argparse.ArgumentParser()
    options.add_pipeline_flags(parser)
    settings = options.pipeline_settings(parser.parse_args(
        ["--split", "user_stratified", "--split-seed", "9"]))
    assert settings["split"] == Split(configs.USER_STRATIFIED_SPLIT, 9)
    defaults = options.pipeline_settings(parser.parse_args([]))
    assert defaults["split"] == Split(configs.RANDOM_SPLIT, configs.SPLIT_SEED)
    with pytest.raises(SystemExit):
        parser.parse_args(["--split", "by_time"])


def test_run_names_its_split_in_its_first_lines():
    import sys
    from conftest import REPO
    sys.path.insert(0, str(REPO))
    import local_runner
    assert local_runner.describe_split("user_stratified", 42) == (
        "user_stratified, each user's ratings 75/25 (seed 42)")
    assert local_runner.describe_split("random", 42) == (
        "random, all ratings hashed 75/25")
