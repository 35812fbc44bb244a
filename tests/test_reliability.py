"""What the pipeline refuses to do: the failure cases of the README's table.

One module fixture drives a pipeline root through, in order:
  1. crash      -> a run is SIGKILLed while its Trainer runs; a second run
                   started meanwhile is refused (one run per pipeline root)
  2. resume     -> the next run completes: the upstream components come from
                   the cache, the Trainer trains again, and nothing the killed
                   execution wrote is used downstream; model X is pushed
  3. worse      -> the same run with an edited copy of the preprocessing
                   module first on the path, and one training step: Transform
                   and what follows re-run, nothing before it; the model is
                   worse than X, not blessed, and the serving directory stays
                   byte for byte as it was
  4. bad data   -> every bad input of the table is refused by the data check
                   before anything runs; with the check skipped, the
                   pipeline's gate refuses a file with an out-of-range
                   rating, a repeated pair and an unknown genre, naming all
                   three; the served model is untouched either way
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys

import pytest
from ml_metadata.proto import metadata_store_pb2

from bad_data import BAD_DATA, edit_field, write_bad_data
from conftest import (REPO, TINY_MODEL_FLAGS, PipelineRun, run_local_runner,
                      tree_digest, write_synthetic_data)
from pipeline import metadata_report

UPSTREAM = ["CsvExampleGen", "StatisticsGen", "ImportSchemaGen",
            "ExampleValidator", "AnomaliesGate", "Transform"]
# Long enough that the kill lands while the Trainer trains.
FLAGS = (*TINY_MODEL_FLAGS, "--train-steps", "1000")


def run_local(run, *extra):
    return run_local_runner(run, *FLAGS, *extra)


def run_with_edited_preprocessing(run, base: pathlib.Path, *extra: str):
    """local_runner.py with a copy of trainer_module, its preprocessing
    source edited, ahead of this checkout's on sys.path."""
    copy = base / "edited_code"
    shutil.copytree(REPO / "trainer_module", copy / "trainer_module",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "trainer_module" / "preprocessing.py", "a") as handle:
        handle.write("\n# An edit: any change of the source re-runs Transform.\n")
    argv = [str(REPO / "local_runner.py"), "--data-dir", str(run.data_dir),
            "--output-root", str(run.output_root),
            "--pipeline-name", run.pipeline_name, *FLAGS, *extra]
    launcher = (f"import runpy, sys; sys.path.insert(0, {str(copy)!r}); "
                f"sys.argv = {argv!r}; "
                f"runpy.run_path(sys.argv[0], run_name='__main__')")
    return subprocess.run([sys.executable, "-c", launcher], cwd=REPO,
                          capture_output=True, text=True, timeout=900)


def kill_during_trainer(run) -> dict:
    """Starts a run and SIGKILLs its process group once the Trainer reports
    training steps; meanwhile, starts a second run on the same root."""
    command = [sys.executable, str(REPO / "local_runner.py"),
               "--data-dir", str(run.data_dir),
               "--output-root", str(run.output_root),
               "--pipeline-name", run.pipeline_name, *FLAGS]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines, concurrent = [], None
    try:
        for line in process.stdout:
            lines.append(line)
            if concurrent is None and "] CsvExampleGen ..." in line:
                concurrent = run_local(run)
            if "Trainer: step" in line:
                break
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    return {"output": "".join(lines), "returncode": process.returncode,
            "concurrent": concurrent}


def trainer_executions(store):
    return [e for e in store.get_executions()
            if metadata_report.component_name(store, e) == "Trainer"]


def consumers(store, artifact_ids):
    """Ids of executions that took any of the artifacts as an input."""
    return {event.execution_id
            for event in store.get_events_by_artifact_ids(list(artifact_ids))
            if event.type == metadata_store_pb2.Event.INPUT}


def outputs_of(store, execution_id):
    return {event.artifact_id
            for event in store.get_events_by_execution_ids([execution_id])
            if event.type == metadata_store_pb2.Event.OUTPUT}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("reliability")
    run = PipelineRun(base / "data" / "synthetic", base / "outputs", "rel")
    write_synthetic_data(run.data_dir)
    results = {"run": run}

    results["crash"] = kill_during_trainer(run)
    store = metadata_report.open_store(run.metadata_path)
    killed = trainer_executions(store)
    results["killed_states"] = [e.last_known_state for e in killed]
    results["killed_outputs"] = set().union(
        *(outputs_of(store, e.id) for e in killed))

    results["resume"] = run_local(run)
    results["resume_steps"] = metadata_report.component_runs(store)
    results["model_x"] = metadata_report.latest_output(store, "Trainer",
                                                       "model").id
    results["serving_digest"] = tree_digest(run.serving_dir)

    # One run for two cases: an edited preprocessing module, and a model
    # trained for one step, worse than X.
    results["worse"] = run_with_edited_preprocessing(
        run, base, "--train-steps", "1", "--max-rmse", "10")
    results["worse_steps"] = metadata_report.component_runs(store)
    results["worse_tfma_blessing"] = metadata_report.latest_blessing(
        store, "Evaluator")
    results["worse_blessing"] = metadata_report.latest_blessing(store)
    results["worse_serving_digest"] = tree_digest(run.serving_dir)

    # Three breakages in one file, a schema anomaly among them: the gate
    # reports every problem at once.
    gate_data = write_bad_data(run.data_dir, base / "data" / "gate",
                               "duplicate_pair")
    lines = edit_field((gate_data / "ratings.csv").read_text().splitlines(),
                       11, "genres", "Comedy|Cyberpunk")
    lines = edit_field(lines, 21, "rating", "7")
    (gate_data / "ratings.csv").write_text("".join(l + "\n" for l in lines))
    results["gate"] = run_local(
        PipelineRun(gate_data, run.output_root, run.pipeline_name),
        "--skip-data-check")
    results["gate_steps"] = metadata_report.component_runs(store)
    return results


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
    assert "pipeline 'rel' is already running (pid" in concurrent.stderr
    assert "Traceback" not in concurrent.stderr
    # Refused before doing anything: it started no execution.
    assert "CsvExampleGen" not in concurrent.stdout


def test_resumed_run_reuses_upstream_and_retrains(runs):
    _succeeded(runs["resume"])
    states = _states(runs["resume_steps"])
    assert {name: states[name] for name in UPSTREAM} == {
        name: "CACHED" for name in UPSTREAM}
    assert states["Trainer"] == "COMPLETE"
    assert states["Pusher"] == "COMPLETE"
    assert "pushed model:" in runs["resume"].stdout


def test_nothing_the_killed_trainer_wrote_is_used(runs):
    store = metadata_report.open_store(runs["run"].metadata_path)
    assert runs["model_x"] not in runs["killed_outputs"]
    assert not consumers(store, runs["killed_outputs"])


# --- a worse model, from edited code --------------------------------------

def test_worse_model_is_not_pushed_and_serving_is_untouched(runs):
    _succeeded(runs["worse"])
    assert runs["worse_tfma_blessing"] is False
    assert runs["worse_blessing"] is False
    assert "not pushed" in runs["worse"].stdout
    assert runs["worse_serving_digest"] == runs["serving_digest"]


def test_edited_preprocessing_code_reruns_transform_and_after(runs):
    states = _states(runs["worse_steps"])
    assert {name: states[name] for name in UPSTREAM[:-1]} == {
        name: "CACHED" for name in UPSTREAM[:-1]}
    assert states["Transform"] == "COMPLETE"
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
