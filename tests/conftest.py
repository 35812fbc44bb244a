"""Fixtures shared by test modules.

`tiny_pipeline_run` runs the whole pipeline once per test session, as a user
would (local_runner.py in a subprocess), on small synthetic data, and hands
out read-only paths to what it made. Tests that change a pipeline root make
their own: `pipeline_history` drives one root through the runs of
pipeline_history.py for test_pipeline_e2e.py and test_reliability.py.
"""
import dataclasses
import hashlib
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
TINY_PIPELINE = "tiny"
# A tiny model trained for a few steps: tests check wiring, not quality.
TINY_MODEL_FLAGS = ("--batch-size", "64", "--hidden-units", "16,8",
                    "--user-embedding-dim", "4", "--max-rmse", "3.0",
                    "--ndcg-tolerance", "1.0", "--train-steps", "60",
                    "--min-ndcg", "0.0")


@dataclasses.dataclass(frozen=True)
class PipelineRun:
    """Where one local pipeline run put things."""
    data_dir: pathlib.Path
    output_root: pathlib.Path
    pipeline_name: str

    @property
    def metadata_path(self) -> str:
        return str(self.output_root / "metadata" / self.pipeline_name
                   / "metadata.db")

    @property
    def serving_dir(self) -> pathlib.Path:
        return self.output_root / "serving_model" / self.pipeline_name


def write_synthetic_data(data_dir: pathlib.Path, seed: int = 7):
    """60 users, 80 items, 1,500 ratings in data_dir/ratings.csv."""
    from movielens_data.output import write_pipeline_csv
    from movielens_data.synthetic import generate_ratings
    write_pipeline_csv(generate_ratings(num_users=60, num_items=80,
                                        num_ratings=1500, seed=seed), data_dir)


def run_local_runner(run: PipelineRun, *flags: str
                     ) -> subprocess.CompletedProcess:
    """local_runner.py in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, str(REPO / "local_runner.py"),
         "--data-dir", str(run.data_dir), "--output-root", str(run.output_root),
         "--pipeline-name", run.pipeline_name, *flags],
        cwd=REPO, capture_output=True, text=True, timeout=900)


def tree_digest(path) -> str:
    """SHA-256 over every file (name and bytes) below path."""
    digest = hashlib.sha256()
    for root, _, files in sorted(os.walk(path)):
        for name in sorted(files):
            full = os.path.join(root, name)
            digest.update(os.path.relpath(full, path).encode())
            with open(full, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


# The ranking objective on the same tiny data, split per user as
# Recommenders' benchmarks: few training steps, a tiny classifier (with the
# defaults' user history and no user embedding), gates open.
TINY_RANKING_FLAGS = ("--objective", "ranking", "--split", "user_stratified",
                      "--batch-size", "64",
                      "--hidden-units", "16,8", "--history-embedding-dim", "4",
                      "--item-embedding-dim", "4", "--train-steps", "60",
                      "--min-ndcg", "0.0",
                      "--min-auc", "0.0", "--ndcg-tolerance", "1.0",
                      "--auc-tolerance", "1.0")


@pytest.fixture(scope="session")
def tiny_ranking_run(tmp_path_factory) -> PipelineRun:
    """One successful run with --objective ranking; do not modify it."""
    base = tmp_path_factory.mktemp("tiny_ranking_run")
    run = PipelineRun(base / "data" / "synthetic", base / "outputs",
                      "tiny-ranking")
    write_synthetic_data(run.data_dir)
    result = run_local_runner(run, *TINY_RANKING_FLAGS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert os.listdir(run.serving_dir), "the tiny ranking run pushed no model"
    return run


@pytest.fixture(scope="session")
def tiny_pipeline_run(tmp_path_factory) -> PipelineRun:
    """One successful run of the whole pipeline; do not modify its outputs."""
    base = tmp_path_factory.mktemp("tiny_run")
    run = PipelineRun(base / "data" / "synthetic", base / "outputs",
                      TINY_PIPELINE)
    write_synthetic_data(run.data_dir)
    result = run_local_runner(run, *TINY_MODEL_FLAGS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert os.listdir(run.serving_dir), "the tiny run pushed no model"
    return run


@pytest.fixture(scope="session")
def pipeline_history(tmp_path_factory) -> dict:
    """What each run of pipeline_history.drive left; do not modify it."""
    from pipeline_history import drive
    return drive(tmp_path_factory.mktemp("history"))


# What makes a test end-to-end (`e2e` in pytest.ini): it trains a model,
# runs the pipeline, a cluster path or a notebook server. `-m "not e2e"`
# leaves these out: the rest is the fast set (exact values, parsers, metric
# math, component executors on tiny fixtures that train nothing).
#
# Fixtures that run the whole pipeline (a minute or more each, once per
# session) or train a tf.estimator model (test_model's `trained` and
# `trained_ranking`: TF Transform, then a wide-and-deep model trained and
# exported, 10 to 40 s each): a test using one, directly or through another
# fixture, is an end-to-end test.
_E2E_FIXTURES = {"tiny_pipeline_run", "tiny_ranking_run", "pipeline_history",
                 "trained", "trained_ranking"}
# Modules whose own fixtures run a pipeline, a cluster path or a notebook
# server, whatever fixtures their tests name.
_E2E_MODULES = {"test_kfp_v2_pipeline", "test_distributed_trainer",
                "test_portable_runner", "test_ranking_e2e",
                "test_reliability", "test_pipeline_e2e", "test_notebook",
                "test_data_check_pipeline"}
# Tests that train a tf.estimator model in their own body, in modules where
# a mark is not written beside the test ({module: {test function}}; every
# parametrized case). tests/test_markers.py checks each still exists.
E2E_TESTS = {
    "test_model": {
        # Trains and exports a ranking model of its own (Trained).
        "test_ease_blend_ranks_by_logit_plus_weight_times_the_ease_score",
        # Builds and trains two estimators per case (one step each).
        "test_loss_reduction_sums_the_batch_as_the_seed_or_averages_it",
    },
    "test_history": {
        # Trains a ranking model for 400 steps per case.
        "test_ranking_model_learns_from_the_history_of_similar_users",
    },
}


def pytest_collection_modifyitems(items) -> None:
    """Marks end-to-end tests `e2e` (pytest.ini), so that
    `scripts/test.sh -m "not e2e"` runs the fast tests alone."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if (_E2E_FIXTURES & set(item.fixturenames)
                or module in _E2E_MODULES
                or item.originalname in E2E_TESTS.get(module, ())):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(name="restore_logging")
def fixture_restore_logging():
    """route_logs rewires the root logger and absl's verbosity; put them
    back."""
    import logging
    from absl import logging as absl_logging
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    verbosity = absl_logging.get_verbosity()
    yield
    absl_logging.set_verbosity(verbosity)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if handler not in handlers:
            handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
