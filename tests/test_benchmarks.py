"""The side-by-side benchmark's parts: the notebook baseline's data handling
and metrics, the limit probe's model, the ratios, and the Trainer's own
training figures that the benchmark reads."""
import json
import os
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
import movielens_features as features
from trainer_module.hparams import HParams
from trainer_module.export import TRAINING_STATS_FILE

sys.path.insert(0, str(REPO))
from benchmarks import limit_probe, notebook_baseline  # noqa: E402
from benchmarks.pipeline_benchmark import ratios  # noqa: E402


def _frame(rows):
    return pd.DataFrame(rows, columns=[features.USER_KEY, features.ITEM_KEY,
                                       features.LABEL_KEY,
                                       features.GENRES_KEY])


def test_multi_hot_genres_has_one_sorted_slot_per_genre_of_the_data():
    train = _frame([(1, 10, 4.0, "Drama|Action"), (2, 11, 3.0, "")])
    eval_ = _frame([(1, 12, 5.0, "War")])
    train_x, eval_x, width = notebook_baseline.multi_hot_genres(train, eval_)
    assert width == 3  # Action, Drama, War
    assert np.array_equal(np.stack(train_x[notebook_baseline.GENRES_FEATURE]),
                          [[1, 1, 0], [0, 0, 0]])
    assert np.array_equal(np.stack(eval_x[notebook_baseline.GENRES_FEATURE]),
                          [[0, 0, 1]])
    assert features.GENRES_KEY not in train_x


def test_unseen_pool_is_every_user_item_pair_but_the_train_ones():
    train = _frame([(1, 10, 4.0, "Drama"), (2, 11, 3.0, "War")])
    eval_ = _frame([(1, 11, 5.0, "War"), (3, 10, 2.0, "Drama")])
    train_x, eval_x, _ = notebook_baseline.multi_hot_genres(train, eval_)
    pool = notebook_baseline.unseen_pool(train, eval_, eval_x, train_x)
    pairs = sorted(zip(pool[features.USER_KEY], pool[features.ITEM_KEY]))
    # 3 users x 2 items, less (1, 10) and (2, 11) seen in train; eval pairs
    # stay in the pool (they are what a good ranking finds).
    assert pairs == [(1, 11), (2, 10), (3, 10), (3, 11)]
    genres = dict(zip(pool[features.ITEM_KEY],
                      map(tuple, pool[notebook_baseline.GENRES_FEATURE])))
    assert genres == {10: (1.0, 0.0), 11: (0.0, 1.0)}  # Drama, War


@pytest.mark.e2e  # builds and trains a tf.estimator model (one step)
@pytest.mark.parametrize("version", [notebook_baseline.V1,
                                     notebook_baseline.V2])
def test_notebook_model_sums_the_batch_loss_in_either_estimator(tmp_path,
                                                                 version):
    """--estimator v2 changes the canned estimator's version and nothing
    else the notebook fixed: the batch's squared errors are summed, as the
    TF1 estimator's default (loss = batch size x average loss)."""
    train = _frame([(u, 10 + u % 3, 1.0 + u % 5, "Drama|War")
                    for u in range(8)])
    train_x, _, width = notebook_baseline.multi_hot_genres(train, train)
    model = notebook_baseline.build_model(
        train[features.USER_KEY].unique(), train[features.ITEM_KEY].unique(),
        width, str(tmp_path), train_steps=1, estimator=version)
    batch = notebook_baseline.pandas_input_fn(
        train_x, y_col=features.LABEL_KEY, batch_size=8)
    model.train(batch, steps=1)
    figures = model.evaluate(batch, steps=1)
    assert figures["loss"] == pytest.approx(8 * figures["average_loss"],
                                            rel=1e-4)


def test_pandas_input_fn_batches_every_row_with_its_label():
    frame = pd.DataFrame({"a": [1, 2, 3], "v": [np.ones(2, np.float32)] * 3,
                          "y": [0.5, 1.5, 2.5]})
    batches = list(notebook_baseline.pandas_input_fn(
        frame, y_col="y", batch_size=2)())
    assert [len(labels) for _, labels in batches] == [2, 1]
    assert batches[0][0]["v"].shape == (2, 2)
    assert np.concatenate([l.numpy() for _, l in batches]).tolist() == \
        [0.5, 1.5, 2.5]


def test_notebook_baseline_runs_on_a_pipeline_split(tiny_pipeline_run):
    examples = os.path.join(tiny_pipeline_run.output_root, "pipelines",
                            tiny_pipeline_run.pipeline_name, "CsvExampleGen",
                            "examples")
    examples = os.path.join(examples, os.listdir(examples)[0])
    train = notebook_baseline.read_split(examples, "train")
    eval_ = notebook_baseline.read_split(examples, "eval")
    result = notebook_baseline.run(examples, epochs=1)
    assert result["train_rows"] == len(train)
    assert result["eval_rows"] == len(eval_)
    assert result["train_steps"] == len(train) // notebook_baseline.BATCH_SIZE
    users = np.union1d(train[features.USER_KEY], eval_[features.USER_KEY])
    items = np.union1d(train[features.ITEM_KEY], eval_[features.ITEM_KEY])
    seen = len(train.drop_duplicates([features.USER_KEY, features.ITEM_KEY]))
    assert result["pool_pairs"] == len(users) * len(items) - seen
    # A few steps: the values are only well-formed, not good.
    assert np.isfinite(result["metrics"]["rmse"])
    assert 0 <= result["metrics"]["ndcg@k"] <= 1
    assert result["train_steps_per_second"] > 0


def test_read_split_names_the_folder_when_there_are_no_examples(tmp_path):
    with pytest.raises(SystemExit, match=str(tmp_path)):
        notebook_baseline.read_split(str(tmp_path), "train")


def test_probe_model_trains_and_scores_the_seed_architecture():
    hparams = HParams(hidden_units=(8, 4), user_embedding_dim=3)
    model = limit_probe.WideDeep(hparams)
    batch = limit_probe.random_batch(16, seed=0)
    scores = model(batch["users"], batch["items"], batch["genres"],
                   training=False)
    assert scores.shape == (16,)
    # Dense, dropout, batch norm per hidden layer, as the canned DNN.
    assert [dense.units for dense, _, _ in model.layers] == [8, 4]
    assert all(drop.rate == hparams.dropout for _, drop, _ in model.layers)
    assert all(norm.momentum == 0.999 for _, _, norm in model.layers)
    # In inference the same pairs score the same (no dropout noise).
    again = model(batch["users"], batch["items"], batch["genres"],
                  training=False)
    assert np.array_equal(scores.numpy(), again.numpy())


def test_ratios_are_taken_within_one_run():
    run = {
        "wall_seconds": 90.0,
        "trainer": {"steps_per_second": 150.0},
        "topk": {"timing": {"pairs_per_second": 300_000},
                 "model": {"ndcg@k": 0.1}},
        "eval_metrics": {"root_mean_squared_error": 0.95},
        "notebook": {"wall_seconds": 100.0, "train_steps_per_second": 120.0,
                     "pool_pairs_per_second": 60_000,
                     "metrics": {"rmse": 0.96, "ndcg@k": 0.08}},
        "probe": {"train_steps_per_second": 200.0,
                  "scoring_pairs_per_second": 500_000},
    }
    assert ratios(run) == {
        "pipeline_wall_over_notebook_wall": 0.9,
        "trainer_steps_over_notebook_steps": 1.25,
        "topk_pairs_over_notebook_pairs": 5.0,
        "trainer_steps_over_probe_steps": 0.75,
        "topk_pairs_over_probe_pairs": 0.6,
        "rmse_minus_notebook_rmse": -0.01,
        "ndcg_minus_notebook_ndcg": 0.02,
    }
    # A ranking model has no RMSE: that ratio is left out, not faked.
    del run["eval_metrics"]["root_mean_squared_error"]
    assert "rmse_minus_notebook_rmse" not in ratios(run)


def test_trainer_writes_its_steps_and_speed(tiny_pipeline_run):
    model_run = os.path.join(tiny_pipeline_run.output_root, "pipelines",
                             tiny_pipeline_run.pipeline_name, "Trainer",
                             "model_run")
    (run_id,) = os.listdir(model_run)
    with open(os.path.join(model_run, run_id, TRAINING_STATS_FILE)) as handle:
        stats = json.load(handle)
    # conftest.TINY_MODEL_FLAGS: 60 steps of 64.
    assert stats["steps"] == 60 and stats["batch_size"] == 64
    assert stats["train_seconds"] > 0
    assert stats["steps_per_second"] == pytest.approx(
        60 / stats["train_seconds"], rel=0.02)


def _benchmark_result(precision, ndcg, rmse=None):
    """The parts of a pipeline_benchmark.py result the quality table reads."""
    metrics = {"precision@k": precision, "ndcg@k": ndcg, "map@k": 0.1,
               "recall@k": 0.2}
    return {"command": "benchmarks/pipeline_benchmark.py --runs 3",
            "per_run": [{}, {}, {}],
            "eval_metrics_median": ({} if rmse is None else
                                    {"root_mean_squared_error": rmse}),
            "topk_median": {"model": metrics, "popularity": {
                "precision@k": 0.2, "ndcg@k": 0.24}}}


def test_quality_table_has_every_objective_and_split_and_labels_published(
        tmp_path):
    from benchmarks import quality_table
    figures = {"pipeline_ml100k.json": (0.03, 0.04, 0.95),
               "pipeline_stratified_ml100k.json": (0.05, 0.06, 0.94),
               "pipeline_ranking_ml100k.json": (0.37, 0.41, None),
               "pipeline_ranking_stratified_ml100k.json": (0.41, 0.46, None)}
    for name, values in figures.items():
        (tmp_path / name).write_text(json.dumps(_benchmark_result(*values)))
    table = quality_table.build_table(str(tmp_path))
    measured = {(row["objective"], row["split"]):
                (row["precision@10"], row["ndcg@10"], row["rmse"])
                for row in table["measured"]}
    assert measured == {
        ("rating", "random"): (0.03, 0.04, 0.95),
        ("rating", "user_stratified"): (0.05, 0.06, 0.94),
        ("ranking", "random"): (0.37, 0.41, None),
        ("ranking", "user_stratified"): (0.41, 0.46, None)}
    text = quality_table.markdown(table)
    assert "| this pipeline, ranking objective | user_stratified | 3 | " \
           "0.410 | 0.460 |  |" in text
    assert "| BPR (published, Recommenders) | user_stratified | | 0.388 | " \
           "0.442 | |" in text
    assert "another code base" in table["published"]["source"]
    (tmp_path / "pipeline_ml100k.json").unlink()
    with pytest.raises(FileNotFoundError, match="pipeline_ml100k.json"):
        quality_table.build_table(str(tmp_path))


def _scale_run(wall, ndcg, trainer_seconds, ease=None):
    figures = {"wall_seconds": wall, "peak_rss_mb": 100.0 + wall,
               "component_seconds": {"Trainer": trainer_seconds,
                                     "Transform": 2.0},
               "eval_users": 943, "ndcg@10": ndcg, "precision@10": ndcg / 2}
    if ease is not None:
        figures.update({"ease_ndcg@10": ease, "ease_precision@10": ease / 2})
    return figures


def test_scale_entry_takes_medians_and_costs_per_million_ratings():
    from benchmarks import scale_benchmark
    runs = [_scale_run(10.0, 0.4, 6.0, 0.5), _scale_run(30.0, 0.2, 2.0, 0.5),
            _scale_run(20.0, 0.3, 4.0, 0.5)]
    entry = scale_benchmark.summarize("ml-100k", "ranking", runs, 200_000,
                                      "cmd")
    assert entry["wall_seconds"] == 20.0
    assert entry["peak_rss_mb"] == 120.0
    assert entry["ndcg@10"] == 0.3 and entry["precision@10"] == 0.15
    assert entry["ease_ndcg@10"] == 0.5
    assert entry["component_seconds"] == {"Trainer": 4.0, "Transform": 2.0}
    # 4 s for 0.2 million ratings.
    assert entry["component_seconds_per_million_ratings"] == {
        "Trainer": 20.0, "Transform": 10.0}


def test_scale_json_keeps_other_sizes_and_replaces_the_measured_ones(
        tmp_path):
    from benchmarks import scale_benchmark
    path = tmp_path / "scale.json"
    old = [scale_benchmark.summarize(size, objective, [_scale_run(
        1.0, 0.1, 1.0)], 1_000_000, "old")
        for size, objective in (("ml-1m", "rating"), ("ml-100k", "ranking"),
                                ("ml-100k", "rating"))]
    path.write_text(json.dumps({"runs": old,
                                scale_benchmark.RATIO_KEY: 9.9}))
    fresh = scale_benchmark.summarize("ml-100k", "ranking", [_scale_run(
        5.0, 0.4, 1.0, 0.45)], 100_000, "new")
    report = scale_benchmark.merge(str(path), [fresh], ratio=None)
    assert [(e["size"], e["objective"], e["command"])
            for e in report["runs"]] == [("ml-100k", "ranking", "new"),
                                         ("ml-100k", "rating", "old"),
                                         ("ml-1m", "rating", "old")]
    assert report[scale_benchmark.RATIO_KEY] == 9.9  # not measured now
    assert scale_benchmark.merge(str(path), [fresh], 1.8)[
        scale_benchmark.RATIO_KEY] == 1.8
    table = scale_benchmark.markdown_table(report).splitlines()
    assert len(table) == 2 + 3
    assert "| ml-100k | ranking | 1 | 5 |" in table[2]
    assert "0.4500 / 0.2250" in table[2]


def test_topk_figures_name_the_sample_and_its_intervals():
    from benchmarks import scale_benchmark
    evaluation = {"k": 10, "pool": {"users": 50},
                  "model": {"ndcg@k": 0.41234, "precision@k": 0.3},
                  "popularity": {"ndcg@k": 0.2, "precision@k": 0.1},
                  "sample": {"intervals": {
                      "model": {"ndcg@k": [0.4, 0.42],
                                "precision@k": [0.29, 0.31]},
                      "popularity": {"ndcg@k": [0.19, 0.21],
                                     "precision@k": [0.09, 0.11]}}}}
    figures = scale_benchmark.topk_figures(evaluation)
    assert figures["eval_users"] == 50
    assert figures["ndcg@10"] == 0.4123
    assert figures["ndcg@10_ci95"] == [0.4, 0.42]
    assert figures["popularity_precision@10_ci95"] == [0.09, 0.11]
    assert "rmse" not in figures and "ease_ndcg@10" not in figures


def test_scale_entry_of_a_run_stopped_after_the_trainer():
    """`-- --stop-after Trainer` (ML-20m size): no top-k figures, the
    exported model's graph and variable sizes instead, in the table too."""
    from benchmarks import scale_benchmark
    run = {"wall_seconds": 9.0, "peak_rss_mb": 50.0,
           "component_seconds": {"Trainer": 3.0},
           "saved_model_pb_bytes": 2_000_000,
           "saved_model_variables_bytes": 3_000_000_000}
    entry = scale_benchmark.summarize("ml-20m", "ranking", [run],
                                      20_000_000, "cmd")
    assert "ndcg@10" not in entry and entry["eval_users"] is None
    assert entry["saved_model_variables_bytes"] == 3_000_000_000
    [row] = scale_benchmark.markdown_table({"runs": [entry]}).splitlines()[2:]
    assert row.endswith("| 2.0 / 3000.0 |")


def test_scale_entry_from_a_shared_root_is_marked_in_json_and_table():
    from benchmarks import scale_benchmark
    shared = scale_benchmark.summarize("ml-20m", "ranking", [_scale_run(
        5.0, 0.4, 1.0)], 20_000_000, "cmd", shared_root=True)
    alone = scale_benchmark.summarize("ml-20m", "rating", [_scale_run(
        5.0, 0.4, 1.0)], 20_000_000, "cmd")
    assert shared["shared_root"] is True and "shared_root" not in alone
    table = scale_benchmark.markdown_table({"runs": [alone, shared]})
    assert "| ml-20m | rating | 1 |" in table
    assert "| ml-20m | ranking † | 1 |" in table
