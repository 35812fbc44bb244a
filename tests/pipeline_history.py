"""One pipeline root driven through a user's history, for the end-to-end
(test_pipeline_e2e.py) and failure (test_reliability.py) tests.

`drive` makes these runs of local_runner.py, in order, and records what each
left in the metadata store and the serving directory:
  1. crash    -> a run is SIGKILLed while its Trainer trains; a second run
                 started meanwhile is refused (one run per pipeline root)
  2. first    -> the same command again: the upstream components come from
                 the cache, the Trainer trains again, the evaluators and the
                 Pusher run; model X is pushed
  3. cached   -> the same command right after the push: everything comes
                 from the cache (the baseline resolver leaves the
                 candidate out, so the evaluators' inputs are unchanged)
  4. strict   -> new model Y, impossible ndcg threshold: TFMA blesses Y, the
                 TopKEvaluator does not, nothing is pushed
  5. retrain  -> new model Z: its baseline is X, the last model served,
                 not Y
  6. push_fault -> new model W, blessed; the disk fills while the Pusher
                 copies it: the run fails in one line, the served
                 versions are those of before
  7. push_retry -> the same command with space again: the Trainer and the
                 evaluators come from the cache, the Pusher pushes W
  8. worse    -> an edited copy of the preprocessing module first on the
                 path, and one training step: Transform and what follows
                 re-run; the model is worse, not blessed, not pushed
  9. gate     -> with the data check skipped, a file with an out-of-range
                 rating, a repeated pair and an unknown genre: the gate
                 refuses it
One root instead of one per test module: its upstream components run once.
"""
import os
import pathlib
import shutil
import signal
import subprocess
import sys
from typing import Dict, List

from ml_metadata.proto import metadata_store_pb2

from bad_data import edit_field, write_bad_data
from conftest import (REPO, TINY_MODEL_FLAGS, PipelineRun, run_local_runner,
                      tree_digest, write_synthetic_data)
from runtime import metadata_report

PIPELINE_NAME = "history"
# Long enough that the kill lands while the Trainer trains; later runs
# change the step count to make a new model.
FLAGS = (*TINY_MODEL_FLAGS, "--train-steps", "1000")
# Model W of the push_fault and push_retry runs.
PUSHED_W = ("--train-steps", "1003", "--rmse-tolerance", "1.0")


def run_local(run: PipelineRun, *extra: str) -> subprocess.CompletedProcess:
    """The history's flags; later flags override them."""
    return run_local_runner(run, *FLAGS, *extra)


def drive(base: pathlib.Path) -> Dict:
    run = PipelineRun(base / "data" / "synthetic", base / "outputs",
                      PIPELINE_NAME)
    write_synthetic_data(run.data_dir)
    results = {"run": run, "serving_dir": run.serving_dir}

    results["crash"] = kill_during_trainer(run)
    store = metadata_report.open_store(run.metadata_path)
    killed = executions_of(store, "Trainer")
    results["killed_states"] = [e.last_known_state for e in killed]
    results["killed_outputs"] = set().union(
        *(outputs_of(store, e.id) for e in killed))

    results["first"] = run_local(run)
    _record(results, "first", store, run)
    results["first_counts"] = executed_per_component(store)
    results["first_versions"] = sorted(os.listdir(run.serving_dir))
    results["model_x"] = latest_id(store, "Trainer", "model")
    results["first_tfma_uri"] = metadata_report.latest_evaluation_uri(store)

    results["cached"] = run_local(run)
    _record(results, "cached", store, run)

    results["strict"] = run_local(run, "--train-steps", "1001",
                                  "--min-ndcg", "1.0")
    _record(results, "strict", store, run)
    results["strict_baseline"] = topk_baseline_id(store)

    results["retrain"] = run_local(run, "--train-steps", "1002")
    results["retrain_baseline"] = topk_baseline_id(store)
    _record(results, "retrain", store, run)

    # W's blessing must not hang on training noise: RMSE may rise by 1.
    results["push_fault"] = run_with_prelude(
        run, FULL_DISK_AT_PUSH, *PUSHED_W)
    _record(results, "push_fault", store, run)
    results["model_w"] = latest_id(store, "Trainer", "model")
    results["push_retry"] = run_local(run, *PUSHED_W)
    _record(results, "push_retry", store, run)
    results["push_retry_pushed"] = metadata_report.latest_output(
        store, "Pusher", "pushed_model")
    # What every later run must leave as it is.
    results["serving_digest"] = tree_digest(run.serving_dir)

    results["worse"] = run_with_edited_preprocessing(
        run, base, "--train-steps", "1", "--max-rmse", "10")
    _record(results, "worse", store, run)

    results["gate"] = run_local(
        PipelineRun(write_gate_data(run.data_dir, base / "data" / "gate"),
                    run.output_root, run.pipeline_name),
        "--skip-data-check")
    _record(results, "gate", store, run)
    return results


def _record(results: Dict, name: str, store, run: PipelineRun) -> None:
    """What run `name` left: component states, blessings, served files,
    the batch recommendations."""
    results[f"{name}_steps"] = metadata_report.component_runs(store)
    results[f"{name}_tfma_blessing"] = metadata_report.latest_blessing(
        store, "Evaluator")
    results[f"{name}_blessing"] = metadata_report.latest_blessing(store)
    results[f"{name}_serving_digest"] = tree_digest(run.serving_dir)
    results[f"{name}_recommendations"] = metadata_report.latest_output(
        store, "BatchRecommender", "recommendations")


def kill_during_trainer(run: PipelineRun) -> Dict:
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


def run_with_edited_preprocessing(run: PipelineRun, base: pathlib.Path,
                                  *extra: str) -> subprocess.CompletedProcess:
    """local_runner.py with a copy of trainer_module, its preprocessing
    source edited, ahead of this checkout's on sys.path."""
    copy = base / "edited_code"
    shutil.copytree(REPO / "trainer_module", copy / "trainer_module",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "trainer_module" / "preprocessing.py", "a") as handle:
        handle.write("\n# An edit: any change of the source re-runs Transform.\n")
    return run_with_prelude(run, f"sys.path.insert(0, {str(copy)!r})",
                            *extra)


# A disk that fills once the Pusher has copied one file of the model (the
# copy is push.copy_model; a real full disk raises the same OSError).
FULL_DISK_AT_PUSH = """
import errno, os
from components.atomic_pusher import push
def _full_disk(source, destination):
    os.makedirs(destination)
    with open(os.path.join(destination, "saved_model.pb"), "wb") as handle:
        handle.write(b"\\0" * 4096)
    raise OSError(errno.ENOSPC, "No space left on device", destination)
push.copy_model = _full_disk
"""


def run_with_prelude(run: PipelineRun, prelude: str, *extra: str) -> subprocess.CompletedProcess:
    """local_runner.py, as a user runs it, after `prelude` (Python code run
    in the same process first: a path change, a fault)."""
    argv = [str(REPO / "local_runner.py"), "--data-dir", str(run.data_dir),
            "--output-root", str(run.output_root),
            "--pipeline-name", run.pipeline_name, *FLAGS, *extra]
    launcher = (f"import runpy, sys\n{prelude}\nsys.argv = {argv!r}\n"
                f"runpy.run_path(sys.argv[0], run_name='__main__')")
    return subprocess.run([sys.executable, "-c", launcher], cwd=REPO,
                          capture_output=True, text=True, timeout=900)


def write_gate_data(clean: pathlib.Path, dest: pathlib.Path) -> pathlib.Path:
    """Three breakages in one file, a schema anomaly among them, so that the
    gate has to report every problem at once."""
    data = write_bad_data(clean, dest, "duplicate_pair")
    lines = edit_field((data / "ratings.csv").read_text().splitlines(),
                       11, "genres", "Comedy|Cyberpunk")
    lines = edit_field(lines, 21, "rating", "7")
    (data / "ratings.csv").write_text("".join(l + "\n" for l in lines))
    return data


def executed_per_component(store) -> Dict[str, int]:
    """How many executions of each node ran (cache hits not counted)."""
    counts: Dict[str, int] = {}
    for execution in store.get_executions():
        if execution.last_known_state != metadata_store_pb2.Execution.CACHED:
            name = metadata_report.component_name(store, execution)
            counts[name] = counts.get(name, 0) + 1
    return counts


def executions_of(store, component: str) -> List:
    return [e for e in store.get_executions()
            if metadata_report.component_name(store, e) == component]


def outputs_of(store, execution_id: int) -> set:
    return {event.artifact_id
            for event in store.get_events_by_execution_ids([execution_id])
            if event.type == metadata_store_pb2.Event.OUTPUT}


def consumers(store, artifact_ids) -> set:
    """Ids of executions that took any of the artifacts as an input."""
    return {event.execution_id
            for event in store.get_events_by_artifact_ids(list(artifact_ids))
            if event.type == metadata_store_pb2.Event.INPUT}


def latest_id(store, component: str, key: str) -> int:
    return metadata_report.latest_output(store, component, key).id


def topk_baseline_id(store) -> int:
    blessing = metadata_report.latest_output(store, "TopKEvaluator",
                                             "blessing")
    return blessing.custom_properties["baseline_model_id"].int_value
