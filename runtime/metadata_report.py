"""Reads what a pipeline run did from its ML Metadata store.

Used by the local runner's closing summary, the report and recommend
commands, the benchmarks and the tests:
which components ran or were cached, how long each took, what was pushed.
"""
import dataclasses
import os
from typing import Dict, List, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
# Not `tfx.v1`: it loads every component (tens of seconds), and the report
# and recommend commands only read the store.
from tfx.orchestration import metadata as tfx_metadata
from tfx.types import standard_artifacts

from pipeline import configs

_RUN_CONTEXT = "pipeline_run"
_NODE_CONTEXT = "node"
_PUSHED_MODEL = "PushedModel"


@dataclasses.dataclass(frozen=True)
class ComponentRun:
    """One execution of one pipeline node."""
    component: str
    state: str  # COMPLETE, CACHED, FAILED, RUNNING, ...
    seconds: float
    execution_id: int


def open_store(metadata_path: str) -> mlmd.MetadataStore:
    """The SQLite metadata store the local runner writes."""
    return mlmd.MetadataStore(
        tfx_metadata.sqlite_metadata_connection_config(
            metadata_path))


def open_existing_store(metadata_path: str) -> mlmd.MetadataStore:
    """The store at metadata_path; never creates one (SQLite would)."""
    if not os.path.isfile(metadata_path):
        raise FileNotFoundError(
            f"no metadata store at {metadata_path}: no pipeline has run with "
            f"this --output-root and --pipeline-name (run `python "
            f"local_runner.py` first)")
    return open_store(metadata_path)


def run_ids(store: mlmd.MetadataStore) -> List[str]:
    """Every pipeline run id in the store, oldest first."""
    contexts = store.get_contexts_by_type(_RUN_CONTEXT)
    return [c.name for c in sorted(contexts, key=lambda c: c.id)]


def component_runs(store: mlmd.MetadataStore,
                   run_id: Optional[str] = None) -> List[ComponentRun]:
    """Executions of one run (default: the latest), in execution order.

    The wall time is from the execution's registration to its last update,
    as the store records them.
    """
    ids = run_ids(store)
    if not ids:
        return []
    run = store.get_context_by_type_and_name(_RUN_CONTEXT, run_id or ids[-1])
    if run is None:
        raise ValueError(f"no pipeline run {run_id!r} in the metadata store")
    executions = sorted(store.get_executions_by_context(run.id),
                        key=lambda e: e.id)
    return [ComponentRun(
        component=component_name(store, execution),
        state=metadata_store_pb2.Execution.State.Name(
            execution.last_known_state),
        seconds=(execution.last_update_time_since_epoch
                 - execution.create_time_since_epoch) / 1000.0,
        execution_id=execution.id) for execution in executions]


def executions_per_component(store: mlmd.MetadataStore) -> Dict[str, int]:
    """How many executions (any state, all runs) each node has."""
    counts: Dict[str, int] = {}
    for execution in store.get_executions():
        name = component_name(store, execution)
        counts[name] = counts.get(name, 0) + 1
    return counts


def latest_pushed_model(store: mlmd.MetadataStore) -> Optional[str]:
    """Destination of the newest model the Pusher pushed, else None."""
    for artifact in _newest_first(store, _PUSHED_MODEL):
        if artifact.custom_properties["pushed"].int_value == 1:
            return artifact.custom_properties["pushed_destination"].string_value
    return None


def latest_output(store: mlmd.MetadataStore, component: str,
                  output_key: str) -> Optional[metadata_store_pb2.Artifact]:
    """The artifact a component's newest successful execution output under
    output_key (a cached execution counts: it re-publishes its outputs)."""
    done = (metadata_store_pb2.Execution.COMPLETE,
            metadata_store_pb2.Execution.CACHED)
    executions = [e for e in store.get_executions()
                  if e.last_known_state in done
                  and component_name(store, e) == component]
    if not executions:
        return None
    newest = max(executions, key=lambda e: e.id)
    ids = [event.artifact_id
           for event in store.get_events_by_execution_ids([newest.id])
           if event.type == metadata_store_pb2.Event.OUTPUT
           and event.path.steps and event.path.steps[0].key == output_key]
    return store.get_artifacts_by_id(ids)[0] if ids else None


def latest_evaluation_uri(store: mlmd.MetadataStore,
                          component: str = configs.EVALUATOR_ID
                          ) -> Optional[str]:
    artifact = latest_output(store, component, "evaluation")
    return artifact.uri if artifact else None


def latest_blessing(store: mlmd.MetadataStore,
                    component: str = configs.TOPK_EVALUATOR_ID
                    ) -> Optional[bool]:
    """Whether the component's newest blessing blessed (None: no blessing)."""
    artifact = latest_output(store, component, "blessing")
    if artifact is None:
        return None
    return artifact.custom_properties["blessed"].int_value == 1


def _newest_first(store: mlmd.MetadataStore, type_name: str
                  ) -> List[metadata_store_pb2.Artifact]:
    try:
        artifacts = store.get_artifacts_by_type(type_name)
    except mlmd.errors.NotFoundError:
        return []
    return sorted(artifacts, key=lambda a: a.id, reverse=True)


def component_name(store: mlmd.MetadataStore,
                   execution: metadata_store_pb2.Execution) -> str:
    """The pipeline node (component id) an execution belongs to."""
    for context in store.get_contexts_by_execution(execution.id):
        if context.type == _NODE_CONTEXT:
            # Node contexts are named "<pipeline>.<node id>".
            return context.name.split(".", 1)[-1]
    return execution.type


def overall_metrics(evaluation_uri: str) -> Dict[str, float]:
    """TFMA's metrics on the overall slice, e.g. {"root_mean_squared_error":..}."""
    import tensorflow_model_analysis as tfma  # heavy; only when asked
    result = tfma.load_eval_result(evaluation_uri)
    for slice_key, metrics in result.slicing_metrics:
        if slice_key == ():
            return {name: value["doubleValue"]
                    for name, value in metrics[""][""].items()
                    if "doubleValue" in value}
    return {}


def latest_examples(store: mlmd.MetadataStore,
                    component: str = configs.EXAMPLE_GEN_ID
                    ) -> Optional[standard_artifacts.Examples]:
    """The newest raw Examples, as the TFX artifact readers expect."""
    found = latest_output(store, component, "examples")
    if found is None:
        return None
    examples = standard_artifacts.Examples()
    examples.uri = found.uri
    examples.split_names = found.properties["split_names"].string_value
    return examples
