"""The TFMA dashboard notebook and the functions behind it.

The notebook runs headless (nbclient) against the shared tiny run, in a
kernel of this interpreter (the venv's python) whatever kernel specs the
machine has; reporting/tfma_results.py is tested on the same run and on a
hand-made metadata store (cached, failed and other components' executions).
"""
import json
import os
import pathlib
import sys
from typing import Dict, List, Tuple

import ml_metadata as mlmd
import nbclient
import nbformat
import pytest
import tensorflow_model_analysis as tfma
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from ml_metadata.proto import metadata_store_pb2

from conftest import PipelineRun
from pipeline import metadata_report
from reporting import tfma_results
from trainer_module import features

NOTEBOOK = (pathlib.Path(__file__).resolve().parent.parent / "notebooks"
            / "tfma_dashboard.ipynb")
KERNEL_NAME = "movielens-tfx-test"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
METRICS = ["example_count", "mean_absolute_error", "mean_squared_error",
           "root_mean_squared_error"]
Execution = metadata_store_pb2.Execution


def _expected_rmse(run: PipelineRun) -> str:
    """The overall RMSE as the local runner's summary prints it."""
    store = metadata_report.open_store(run.metadata_path)
    metrics = metadata_report.overall_metrics(
        metadata_report.latest_evaluation_uri(store))
    return f"{metrics['root_mean_squared_error']:.4f}"


# --- reporting/tfma_results.py on the tiny run -----------------------------

@pytest.fixture(scope="module")
def tiny_store(tiny_pipeline_run) -> mlmd.MetadataStore:
    return metadata_report.open_existing_store(
        tiny_pipeline_run.metadata_path)


def test_evaluation_uris_of_the_tiny_run(tiny_store):
    uris = tfma_results.evaluation_uris(tiny_store)
    assert uris == [metadata_report.latest_evaluation_uri(tiny_store)]
    assert pathlib.Path(uris[0]).parent.parent.name == "Evaluator"
    assert tfma.load_eval_result(uris[0]).slicing_metrics
    results = tfma_results.eval_results_over_runs(uris)
    assert results.get_mode() == tfma.constants.MODEL_CENTRIC_MODE
    assert len(results.get_results()) == 1


def test_overall_metrics_table(tiny_store, tiny_pipeline_run):
    table = tfma_results.overall_metrics_table(
        tfma_results.latest_eval_result(tiny_store))
    assert list(table.columns) == METRICS
    assert list(table.index) == ["Overall"]
    assert (f"{table.at['Overall', 'root_mean_squared_error']:.4f}"
            == _expected_rmse(tiny_pipeline_run))


def test_slice_metrics_table_has_a_row_per_genre(tiny_store):
    result = tfma_results.latest_eval_result(tiny_store)
    table = tfma_results.slice_metrics_table(result, features.GENRE_SLICE_KEY)
    genres = {value for key in result.get_slice_names() if len(key) == 1
              for column, value in key if column == features.GENRE_SLICE_KEY}
    assert list(table.columns) == [features.GENRE_SLICE_KEY, *METRICS]
    assert len(genres) > 1
    assert sorted(table[features.GENRE_SLICE_KEY]) == sorted(genres)
    assert genres <= set(features.GENRES) | {""}
    assert list(table["example_count"]) == sorted(table["example_count"],
                                                  reverse=True)
    overall = tfma_results.overall_metrics_table(result)
    assert table["example_count"].sum() >= overall.at["Overall",
                                                      "example_count"]


def test_metrics_over_runs_of_the_tiny_run(tiny_store, tiny_pipeline_run):
    table = tfma_results.metrics_over_runs(tiny_store)
    assert list(table.columns) == ["run", "run_id", "time", "rmse", "mae",
                                   "example_count", "blessed",
                                   "evaluation_uri"]
    [row] = table.to_dict("records")
    assert row["run"] == 1
    assert row["run_id"] == metadata_report.run_ids(tiny_store)[-1]
    assert f"{row['rmse']:.4f}" == _expected_rmse(tiny_pipeline_run)
    assert row["blessed"] is True  # the tiny run pushed a model


# --- on a hand-made store: cached, failed and other components ------------

def _fake_store(executions: List[Tuple[str, int, str, str]]
                ) -> mlmd.MetadataStore:
    """An in-memory store; each execution is (node, state, run id, uri of
    its "evaluation" output). A uri "@<n>" re-uses the artifact of execution
    n (0-based), as a cached execution does."""
    store = mlmd.MetadataStore(metadata_store_pb2.ConnectionConfig(
        fake_database=metadata_store_pb2.FakeDatabaseConfig()))
    types = {name: store.put_context_type(
        metadata_store_pb2.ContextType(name=name))
        for name in ("node", "pipeline_run")}
    artifact_type = store.put_artifact_type(
        metadata_store_pb2.ArtifactType(name="ModelEvaluation"))
    execution_type = store.put_execution_type(
        metadata_store_pb2.ExecutionType(name="component"))
    contexts: Dict[str, metadata_store_pb2.Context] = {}
    artifacts: List[int] = []
    for node, state, run, uri in executions:
        artifact = metadata_store_pb2.Artifact(type_id=artifact_type, uri=uri)
        if uri.startswith("@"):
            [artifact] = store.get_artifacts_by_id([artifacts[int(uri[1:])]])
        event = metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)
        event.path.steps.add().key = "evaluation"
        _, [artifact_id], _ = store.put_execution(
            Execution(type_id=execution_type, last_known_state=state),
            [(artifact, event)],
            [_context(store, contexts, types["node"], f"p.{node}"),
             _context(store, contexts, types["pipeline_run"], run)])
        artifacts.append(artifact_id)
    return store


def _context(store: mlmd.MetadataStore,
             contexts: Dict[str, metadata_store_pb2.Context], type_id: int,
             name: str) -> metadata_store_pb2.Context:
    if name not in contexts:
        context = metadata_store_pb2.Context(type_id=type_id, name=name)
        [context.id] = store.put_contexts([context])
        contexts[name] = context
    return contexts[name]


def test_evaluation_uris_dedupes_cached_and_skips_failed():
    store = _fake_store([
        ("Evaluator", Execution.COMPLETE, "run-1", "/eval/1"),
        ("TopKEvaluator", Execution.COMPLETE, "run-1", "/topk/2"),
        ("Evaluator", Execution.FAILED, "run-2", "/eval/3"),
        ("Evaluator", Execution.CACHED, "run-3", "@0"),
        ("Evaluator", Execution.COMPLETE, "run-4", "/eval/5"),
        ("Evaluator", Execution.CACHED, "run-5", "@4"),
    ])
    assert tfma_results.evaluation_uris(store) == ["/eval/1", "/eval/5"]
    assert [e.run_id for e in tfma_results.evaluations(store)] == [
        "run-1", "run-4"]
    assert tfma_results.evaluation_uris(store, "TopKEvaluator") == ["/topk/2"]


def test_metrics_over_runs_has_a_row_per_evaluation(tiny_store,
                                                    tiny_pipeline_run):
    uri = metadata_report.latest_evaluation_uri(tiny_store)
    store = _fake_store([("Evaluator", Execution.COMPLETE, "run-1", uri),
                         ("Evaluator", Execution.CACHED, "run-2", "@0"),
                         ("Evaluator", Execution.COMPLETE, "run-3", uri)])
    table = tfma_results.metrics_over_runs(store)
    assert list(table["run"]) == [1, 2]
    assert list(table["run_id"]) == ["run-1", "run-3"]
    assert table["time"].is_monotonic_increasing
    assert {f"{rmse:.4f}" for rmse in table["rmse"]} == {
        _expected_rmse(tiny_pipeline_run)}
    assert list(table["blessed"]) == [None, None]  # no blessing outputs


# --- the notebook, executed once per module --------------------------------

def _kernel_manager(kernels_dir: pathlib.Path) -> AsyncKernelManager:
    """A kernel of sys.executable from a spec only this test sees: a user's
    or system "python3" spec may point at another interpreter."""
    spec_dir = kernels_dir / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher",
                 "-f", "{connection_file}"],
        "display_name": "movielens-tfx tests", "language": "python"}))
    return AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels_dir)]))


@pytest.fixture(scope="module")
def executed_notebook(tiny_pipeline_run, tmp_path_factory
                      ) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, km=_kernel_manager(tmp_path_factory.mktemp("kernels")),
        timeout=300, startup_timeout=120,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    env = dict(os.environ,
               MOVIELENS_OUTPUT_ROOT=str(tiny_pipeline_run.output_root),
               MOVIELENS_PIPELINE_NAME=tiny_pipeline_run.pipeline_name)
    # Raises CellExecutionError, with the cell and traceback, on any error.
    return client.execute(cleanup_kc=True, env=env)


def _outputs(notebook: nbformat.NotebookNode, tag: str) -> List[Dict]:
    [cell] = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    return cell.outputs


def _text(outputs: List[Dict]) -> str:
    """Streams and plain-text representations, as a reader without HTML
    sees them."""
    return "\n".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "")
        for o in outputs)


def _widget_states(notebook: nbformat.NotebookNode,
                   outputs: List[Dict]) -> List[Dict]:
    """The stored state of each widget the outputs display."""
    states = notebook.metadata["widgets"][WIDGET_STATE]["state"]
    return [states[o["data"][WIDGET_VIEW]["model_id"]] for o in outputs
            if WIDGET_VIEW in o.get("data", {})]


def test_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    assert all(not cell.outputs and cell.execution_count is None
               for cell in code)
    assert "widgets" not in notebook.metadata  # no saved widget state


def test_notebook_shows_the_overall_rmse(executed_notebook, tiny_pipeline_run):
    text = _text(_outputs(executed_notebook, "overall-metrics"))
    assert "root_mean_squared_error" in text
    assert _expected_rmse(tiny_pipeline_run) in text, text


def test_notebook_renders_the_genre_slices(executed_notebook,
                                           tiny_pipeline_run):
    [state] = _widget_states(executed_notebook,
                             _outputs(executed_notebook, "slicing-metrics"))
    assert state["model_name"] == "SlicingMetricsModel"
    slices = {row["slice"] for row in state["state"]["data"]}
    result = tfma_results.latest_eval_result(
        metadata_report.open_store(tiny_pipeline_run.metadata_path))
    assert slices == {f"{column}:{value}"
                      for key in result.get_slice_names() if len(key) == 1
                      for column, value in key
                      if column == features.GENRE_SLICE_KEY}


def test_notebook_shows_runs(executed_notebook, tiny_pipeline_run):
    [state] = _widget_states(executed_notebook,
                             _outputs(executed_notebook, "time-series"))
    assert state["model_name"] == "TimeSeriesModel"
    assert len(state["state"]["data"]) == 1  # the tiny run evaluated once
    assert _expected_rmse(tiny_pipeline_run) in _text(
        _outputs(executed_notebook, "metrics-over-runs"))
    assert any("image/png" in output.get("data", {})
               for output in _outputs(executed_notebook, "rmse-plot"))
