"""What the pipeline refuses to do: the failure cases of the tables in
docs/reliability.md, on the pipeline root of pipeline_history.py:
  crash     -> a run SIGKILLed while its Trainer trains leaves nothing used
               downstream; a second run started meanwhile is refused; the
               next run reuses the upstream components and completes
  full disk -> a disk that fills while the Pusher copies a blessed model
               fails the run in one line, serves what was served; the
               re-run pushes that model
  worse     -> an edited preprocessing module re-runs Transform and what
               follows; the worse model is not pushed, serving untouched
  bad data  -> every bad input of the table is refused by the data check
               before anything runs; with the check skipped, the pipeline's
               gate names every problem of a file; serving untouched
"""
import os
import re
import signal

import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2

from bad_data import BAD_DATA, write_bad_data
from conftest import PipelineRun, run_local_runner, tree_digest
from runtime import metadata_report
from pipeline_history import FLAGS, PIPELINE_NAME, consumers

UPSTREAM = ["CsvExampleGen", "StatisticsGen", "ImportSchemaGen",
            "ExampleValidator", "AnomaliesGate", "Transform"]


@pytest.fixture(name="runs")
def fixture_runs(pipeline_history):
    return pipeline_history


def _succeeded(result):
    assert result.returncode == 0, result.stdout + result.stderr


def _states(steps):
    return {step.component: step.state for step in steps}


# --- crash and resume -------------------------------------------------------

def test_killed_run_left_its_trainer_unfinished(runs):
    crash = runs["crash"]
    assert crash["returncode"] == -signal.SIGKILL, crash["output"]
    assert "Trainer: step" in crash["output"]
    assert runs["killed_states"] == [metadata_store_pb2.Execution.RUNNING]


def test_second_run_on_a_busy_root_is_refused(runs):
    concurrent = runs["crash"]["concurrent"]
    assert concurrent.returncode == 3
    assert (f"pipeline '{PIPELINE_NAME}' is already running (pid"
            in concurrent.stderr)
    assert "Traceback" not in concurrent.stderr
    # Refused before doing anything: it started no execution.
    assert "CsvExampleGen" not in concurrent.stdout


def test_resumed_run_reuses_upstream_and_retrains(runs):
    _succeeded(runs["first"])
    states = _states(runs["first_steps"])
    assert {name: states[name] for name in UPSTREAM} == {
        name: "CACHED" for name in UPSTREAM}
    assert states["Trainer"] == "COMPLETE"
    assert states["Pusher"] == "COMPLETE"
    assert "pushed model:" in runs["first"].stdout


def test_nothing_the_killed_trainer_wrote_is_used(runs):
    store = metadata_report.open_store(runs["run"].metadata_path)
    assert runs["model_x"] not in runs["killed_outputs"]
    assert not consumers(store, runs["killed_outputs"])


# --- a full disk while pushing ------------------------------------------------

def test_full_disk_mid_push_leaves_the_served_versions_as_they_were(runs):
    fault = runs["push_fault"]
    assert fault.returncode == 4
    assert "error: no space left on device while Pusher ran (under " in (
        fault.stderr)
    assert "Traceback" not in fault.stderr
    states = _states(runs["push_fault_steps"])
    assert states["TopKEvaluator"] == "COMPLETE"
    assert runs["push_fault_blessing"] is True
    assert states["Pusher"] == "FAILED"
    # Not even a staging folder is left for a reader to trip on.
    assert runs["push_fault_serving_digest"] == runs["retrain_serving_digest"]


def test_rerun_after_the_failed_push_pushes_the_blessed_model(runs):
    _succeeded(runs["push_retry"])
    states = _states(runs["push_retry_steps"])
    # The same baseline as the failed run: the decision comes from the
    # cache, the Pusher (which failed) runs again.
    assert {name: states[name] for name in
            ("Trainer", "Evaluator", "TopKEvaluator")} == {
        name: "CACHED" for name in ("Trainer", "Evaluator", "TopKEvaluator")}
    assert states["Pusher"] == "COMPLETE"
    pushed = runs["push_retry_pushed"]
    assert pushed.custom_properties["pushed_model_id"].int_value == (
        runs["model_w"])
    served = runs["run"].serving_dir
    newest = max(os.listdir(served), key=int)
    assert os.path.join(served, newest) == (
        pushed.custom_properties["pushed_destination"].string_value)
    assert tf.saved_model.load(os.path.join(served, newest)).signatures


# --- a worse model, from edited code --------------------------------------

def test_worse_model_is_not_pushed_and_serving_is_untouched(runs):
    _succeeded(runs["worse"])
    assert runs["worse_tfma_blessing"] is False
    assert runs["worse_blessing"] is False
    # RMSE is TFMA's gate; the TopKEvaluator's check says what TFMA refused.
    assert ("[FAILED] TFMA Evaluator: not blessed: root_mean_squared_error"
            in runs["worse"].stdout)
    assert "not pushed" in runs["worse"].stdout
    assert runs["worse_serving_digest"] == runs["serving_digest"]


def test_edited_preprocessing_code_reruns_transform_and_after(runs):
    # Transform, and the AnomaliesGate, which reads the examples with the
    # preprocessing module's genre parsing, re-run; the rest upstream is
    # cached.
    states = _states(runs["worse_steps"])
    rerun = {"AnomaliesGate", "Transform", "Trainer"}
    assert {name: states[name] for name in UPSTREAM} == {
        name: "COMPLETE" if name in rerun else "CACHED" for name in UPSTREAM}
    assert states["Trainer"] == "COMPLETE"


# --- bad data ---------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_is_refused_before_any_component_runs(runs, case, tmp_path):
    run = runs["run"]
    bad = PipelineRun(write_bad_data(run.data_dir, tmp_path / case, case),
                      run.output_root, run.pipeline_name)
    executions = len(metadata_report.open_store(
        run.metadata_path).get_executions())

    result = run_local_runner(bad, *FLAGS)

    assert result.returncode != 0
    assert result.stderr.startswith(
        f"error: {bad.data_dir / 'ratings.csv'}"), result.stderr
    assert BAD_DATA[case].data_check_says in result.stderr
    assert "Traceback" not in result.stderr
    assert len(metadata_report.open_store(
        run.metadata_path).get_executions()) == executions
    assert tree_digest(run.serving_dir) == runs["serving_digest"]


def test_pipeline_gate_names_every_problem_of_the_data(runs):
    result = runs["gate"]
    assert result.returncode == 1
    assert "DataAnomaliesError" in result.stderr
    assert re.search(r"split '(train|eval)', feature 'rating': Unexpectedly "
                     r"high value: 7>5", result.stderr)
    assert re.search(r"split '(train|eval)', feature 'genres': 1 value\(s\) "
                     r"outside the known genres, such as 'Cyberpunk'",
                     result.stderr)
    assert ("features 'user_id', 'item_id': 1 (user, item) pair(s) rated "
            "more than once") in result.stderr
    assert "Traceback" not in result.stderr
    states = _states(runs["gate_steps"])
    assert states["AnomaliesGate"] == "FAILED"
    assert "Transform" not in states
    assert tree_digest(runs["run"].serving_dir) == runs["serving_digest"]
