"""The TFMA Evaluator's results of a pipeline, found through ML Metadata.

Plain functions behind notebooks/tfma_dashboard.ipynb: which evaluations a
pipeline root holds (from its metadata store, not by listing folders), and
TFMA's metrics as pandas tables, overall, per slice and across runs; and
the script that lets TFMA's widgets load in the classic Notebook.
"""
import dataclasses
from typing import Dict, List, Optional, Tuple

import ml_metadata as mlmd
import pandas as pd
import tensorflow_model_analysis as tfma
from IPython.display import Javascript
from ml_metadata.proto import metadata_store_pb2
from tensorflow_model_analysis.view.view_types import EvalResults

from pipeline import configs
from runtime import metadata_report

EVALUATOR = configs.EVALUATOR_ID
_EVALUATION_KEY = "evaluation"
_BLESSING_KEY = "blessing"
_NODE_CONTEXT = "node"
_RUN_CONTEXT = "pipeline_run"
# A cached execution re-publishes the artifact of the execution it re-uses.
_DONE = (metadata_store_pb2.Execution.COMPLETE,
         metadata_store_pb2.Execution.CACHED)
# TFMA metric names -> the columns of metrics_over_runs, in column order:
# the rating objective's errors, the ranking objective's metrics, the count.
# A table has the columns of the metrics its evaluations have.
_RUN_COLUMNS = {"root_mean_squared_error": "rmse",
                "mean_absolute_error": "mae",
                "auc": "auc",
                "binary_accuracy": "binary_accuracy",
                "mean_label": "mean_label",
                "mean_prediction": "mean_prediction",
                "example_count": "example_count"}
# The columns of a store without evaluations (the rating objective's).
_DEFAULT_RUN_METRICS = ("root_mean_squared_error", "mean_absolute_error",
                        "example_count")
# Left out of metrics_over_runs: the square of the RMSE column, and the
# candidate-minus-baseline deltas ("<metric>_diff").
_NOT_RUN_COLUMNS = ("mean_squared_error",)


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """One evaluation artifact and the execution that first wrote it."""
    uri: str
    run_id: str  # the pipeline_run context ("" if the store has none)
    time: pd.Timestamp  # when that execution started (UTC)
    blessed: Optional[bool]  # that execution's blessing, None if absent


def evaluations(store: mlmd.MetadataStore,
                component: str = EVALUATOR) -> List[Evaluation]:
    """Every distinct evaluation of the component's successful executions,
    oldest first (by the first execution that output it)."""
    executions = sorted(_successful_executions(store, component),
                        key=lambda e: e.id)
    events = store.get_events_by_execution_ids([e.id for e in executions])
    outputs = _outputs_by_execution(events)
    seen: Dict[int, Evaluation] = {}
    for execution in executions:
        keys = outputs.get(execution.id, {})
        for artifact_id in keys.get(_EVALUATION_KEY, []):
            if artifact_id not in seen:
                seen[artifact_id] = _evaluation(store, execution, artifact_id,
                                                keys.get(_BLESSING_KEY, []))
    return list(seen.values())


def evaluation_uris(store: mlmd.MetadataStore,
                    component: str = EVALUATOR) -> List[str]:
    """The evaluation folders, oldest first, each once."""
    return [evaluation.uri for evaluation in evaluations(store, component)]


def latest_eval_result(store: mlmd.MetadataStore,
                       component: str = EVALUATOR) -> tfma.EvalResult:
    """The newest successful execution's evaluation, as the local runner's
    summary reports it."""
    uri = metadata_report.latest_evaluation_uri(store, component)
    if uri is None:
        raise LookupError(f"no successful {component} execution in the store")
    return tfma.load_eval_result(uri)


def eval_results_over_runs(uris: List[str]) -> EvalResults:
    """The evaluations in model-centric mode, for render_time_series.

    One point per evaluation: its candidate model, which load_eval_result
    picks when no model name is given (the model of the "_diff" metrics).
    tfma.load_eval_results(uris, mode=...) does not fit here: it loads
    every model of an evaluation (the baseline too), and in TFMA 0.46 its
    loop reuses the model_name argument, so after a first evaluation with
    the unnamed model "" the later ones ("candidate", "baseline") load with
    an empty model location.
    """
    return tfma.make_eval_results(
        [tfma.load_eval_result(uri) for uri in uris],
        tfma.constants.MODEL_CENTRIC_MODE)


def overall_metrics_table(result: tfma.EvalResult) -> pd.DataFrame:
    """One row ("Overall") with a column per TFMA metric."""
    metrics = result.get_metrics_for_slice(())
    if metrics is None:
        raise ValueError("the evaluation has no overall slice")
    return pd.DataFrame([_scalars(metrics)], index=["Overall"])


def slice_metrics_table(result: tfma.EvalResult,
                        column: str) -> pd.DataFrame:
    """A row per value of a single-column slice, most examples first.

    A multivalent feature (such as the genre) puts an example in the slice
    of each of its values, so the counts add up to more than the overall.
    """
    rows = [{column: key[0][1], **_scalars(metrics[""][""])}
            for key, metrics in result.slicing_metrics
            if len(key) == 1 and key[0][0] == column]
    names = sorted({name for row in rows for name in row} - {column},
                   key=_metric_order)
    table = pd.DataFrame(rows, columns=[column, *names])
    if "example_count" not in table:
        return table.sort_values(column, ignore_index=True)
    return table.sort_values(["example_count", column],
                             ascending=[False, True], ignore_index=True)


def metrics_over_runs(store: mlmd.MetadataStore,
                      component: str = EVALUATOR) -> pd.DataFrame:
    """A row per evaluation, oldest first: run (1, 2, ...), run_id, time,
    the overall slice's metrics, blessed and the uri.

    The metric columns are those the evaluations have (NaN where one has
    not): rmse, mae, example_count for the rating objective; auc,
    binary_accuracy, mean_label, mean_prediction, example_count for the
    ranking objective; other TFMA metrics after the known ones (not
    mean_squared_error nor the *_diff deltas against a baseline).
    """
    found = [(evaluation, _scalars(tfma.load_eval_result(
        evaluation.uri).get_metrics_for_slice(()) or {}))
        for evaluation in evaluations(store, component)]
    names = run_metric_names([overall for _, overall in found])
    rows = [{"run": number, "run_id": evaluation.run_id,
             "time": evaluation.time,
             **{_RUN_COLUMNS.get(name, name): overall.get(name, float("nan"))
                for name in names},
             "blessed": evaluation.blessed,
             "evaluation_uri": evaluation.uri}
            for number, (evaluation, overall) in enumerate(found, 1)]
    return pd.DataFrame(rows, columns=[
        "run", "run_id", "time",
        *[_RUN_COLUMNS.get(name, name) for name in names], "blessed",
        "evaluation_uri"])


def run_metric_names(overalls: List[Dict[str, float]]) -> List[str]:
    """The TFMA metrics of metrics_over_runs' columns, in column order."""
    present = {name for overall in overalls for name in overall}
    if not present:
        return list(_DEFAULT_RUN_METRICS)
    known = [name for name in _RUN_COLUMNS if name in present]
    others = sorted(name for name in present - set(_RUN_COLUMNS)
                    if name not in _NOT_RUN_COLUMNS
                    and not name.endswith("_diff"))
    if "example_count" in known:  # the count stays the last metric
        known.remove("example_count")
        others.append("example_count")
    return known + others


# TFMA's widget views load their elements' bundle (vulcanized_tfma.js) with a
# plain <script>. The bundle's d3-tip is a UMD module: on a page with
# RequireJS, as the classic Notebook's, it calls an anonymous define(), and
# the next require() then fails with "Mismatched anonymous define() module".
# That next require() is often the widget manager loading the second TFMA
# view, which then never shows. This script runs the bundle itself, once,
# with define hidden (d3-tip then attaches to the bundle's own d3, as it
# does without RequireJS), and leaves a <script> with the bundle's src, so
# the views do not load it again. It does nothing on other pages (JupyterLab,
# Notebook 7, an nbconvert page), which have no data-base-url.
_WIDGET_BUNDLE_LOADER = """
(function () {
  var base = document.body.getAttribute('data-base-url');
  if (base === null || typeof window.define !== 'function') return;
  var src = base + 'nbextensions/tensorflow_model_analysis/vulcanized_tfma.js';
  if (document.querySelector('script[src="' + src + '"]')) return;
  // A script of an unknown type is neither fetched nor run.
  var marker = document.createElement('script');
  marker.type = 'text/x-tfma-loaded-without-amd';
  marker.setAttribute('src', src);
  document.head.appendChild(marker);
  fetch(src, {credentials: 'same-origin'}).then(function (response) {
    if (!response.ok) throw new Error(response.status + ' ' + src);
    return response.text();
  }).then(function (code) {
    var define = window.define;
    window.define = undefined;
    try {
      var script = document.createElement('script');
      script.textContent = code;
      document.head.appendChild(script);  // runs now, synchronously
    } finally {
      window.define = define;
    }
  }).catch(function (error) {
    marker.remove();  // the views load it their own way
    console.error('TFMA widget bundle:', error);
  });
})();
"""


def widget_bundle_loader() -> Javascript:
    """Display it (in the notebook, before TFMA's first view) to load TFMA's
    widget elements without breaking RequireJS in the classic Notebook."""
    return Javascript(_WIDGET_BUNDLE_LOADER)


def _successful_executions(store: mlmd.MetadataStore, component: str
                           ) -> List[metadata_store_pb2.Execution]:
    # Node contexts are named "<pipeline>.<node id>".
    nodes = [context for context in store.get_contexts_by_type(_NODE_CONTEXT)
             if context.name.split(".", 1)[-1] == component]
    return [execution for node in nodes
            for execution in store.get_executions_by_context(node.id)
            if execution.last_known_state in _DONE]


def _outputs_by_execution(events: List[metadata_store_pb2.Event]
                          ) -> Dict[int, Dict[str, List[int]]]:
    """execution id -> output key -> artifact ids."""
    outputs: Dict[int, Dict[str, List[int]]] = {}
    for event in events:
        if event.type == metadata_store_pb2.Event.OUTPUT and event.path.steps:
            key = event.path.steps[0].key
            outputs.setdefault(event.execution_id, {}).setdefault(
                key, []).append(event.artifact_id)
    return outputs


def _evaluation(store: mlmd.MetadataStore,
                execution: metadata_store_pb2.Execution, artifact_id: int,
                blessing_ids: List[int]) -> Evaluation:
    [artifact] = store.get_artifacts_by_id([artifact_id])
    runs = [context.name for context
            in store.get_contexts_by_execution(execution.id)
            if context.type == _RUN_CONTEXT]
    blessings = store.get_artifacts_by_id(blessing_ids)
    blessed = (blessings[0].custom_properties["blessed"].int_value == 1
               if blessings and "blessed" in blessings[0].custom_properties
               else None)
    return Evaluation(
        uri=artifact.uri, run_id=runs[0] if runs else "",
        time=pd.Timestamp(execution.create_time_since_epoch, unit="ms",
                          tz="UTC"),
        blessed=blessed)


def _scalars(metrics: Dict[str, Dict]) -> Dict[str, float]:
    """TFMA's metric dicts ({"doubleValue": x}, or a boundedValue when
    confidence intervals are on) as plain numbers; others are skipped."""
    values = {}
    for name, value in metrics.items():
        if "doubleValue" in value:
            values[name] = value["doubleValue"]
        elif "value" in value.get("boundedValue", {}):
            values[name] = value["boundedValue"]["value"]
    if "example_count" in values:  # a count reads better as an integer
        values["example_count"] = int(values["example_count"])
    return {name: values[name] for name in sorted(values, key=_metric_order)}


def _metric_order(name: str) -> Tuple[bool, str]:
    """The example count first, then the metrics by name."""
    return (name != "example_count", name)
