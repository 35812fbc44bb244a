"""Reads what a pipeline run did from its ML Metadata store.

Used by the local runner's closing summary, the report and recommend
commands, the benchmarks and the tests:
which components ran or were cached, how long each took, what was pushed,
which model is served and the evaluations that judged it.

The "latest" lookups take an optional `as_of` execution id: the store as it
was when that execution was written (runs never overlap: one run per
pipeline root), so a report can describe an earlier run.
"""
import dataclasses
import datetime
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
# TFX puts an execution and the cache hits that reuse it in one such context.
_CACHE_CONTEXT = "execution_cache"
_PUSHED_MODEL = "PushedModel"
_CACHED = metadata_store_pb2.Execution.CACHED
_COMPLETE = metadata_store_pb2.Execution.COMPLETE


@dataclasses.dataclass(frozen=True)
class ComponentRun:
    """One execution of one pipeline node."""
    component: str
    state: str  # COMPLETE, CACHED, FAILED, RUNNING, ...
    seconds: float
    execution_id: int
    # A cache hit: the seconds of the execution whose outputs it reused
    # (None: not a cache hit, or that execution is not in the store).
    cached_from_seconds: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class ServedModel:
    """The model served now, from the Pusher execution that copied it."""
    destination: str  # the pushed version's folder
    version: str
    objective: Optional[str]  # None: pushed before pushes recorded it
    model_uri: Optional[str]  # the Trainer's Model artifact
    pushed_at: datetime.datetime  # when that push finished (UTC)
    run_id: str  # the pipeline run that pushed it
    topk_uri: Optional[str]  # the TopKEvaluator evaluation that blessed it
    tfma_uri: Optional[str]  # the Evaluator (TFMA) evaluation it took

    def describe(self) -> str:
        """Which model and since when, in one line."""
        return (f"{self.destination} (version {self.version}, pushed "
                f"{self.pushed_at:%Y-%m-%d %H:%M:%S} UTC by run "
                f"{self.run_id})")


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
        seconds=_seconds(execution),
        execution_id=execution.id,
        cached_from_seconds=_cached_from_seconds(store, execution))
        for execution in executions]


def _seconds(execution: metadata_store_pb2.Execution) -> float:
    return (execution.last_update_time_since_epoch
            - execution.create_time_since_epoch) / 1000.0


def _cached_from_seconds(store: mlmd.MetadataStore,
                         execution: metadata_store_pb2.Execution
                         ) -> Optional[float]:
    """How long the execution a cache hit reused took: the newest earlier
    execution that ran (COMPLETE) under the same cache key."""
    if execution.last_known_state != _CACHED:
        return None
    for context in store.get_contexts_by_execution(execution.id):
        if context.type != _CACHE_CONTEXT:
            continue
        ran = [e for e in store.get_executions_by_context(context.id)
               if e.last_known_state == _COMPLETE and e.id < execution.id]
        if ran:
            return _seconds(max(ran, key=lambda e: e.id))
    return None


def run_last_execution(store: mlmd.MetadataStore, run_id: str) -> int:
    """The id of a run's newest execution: its `as_of` bound."""
    run = store.get_context_by_type_and_name(_RUN_CONTEXT, run_id)
    executions = store.get_executions_by_context(run.id) if run else []
    if not executions:
        raise ValueError(f"no pipeline run {run_id!r} with executions in "
                         f"the metadata store")
    return max(execution.id for execution in executions)


def pusher_was_cached(steps: List[ComponentRun]) -> bool:
    """Whether a run's Pusher was a cache hit: the run trained, judged and
    pushed nothing new (an unchanged re-run)."""
    return any(step.component == configs.PUSHER_ID and step.state == "CACHED"
               for step in steps)


def executions_per_component(store: mlmd.MetadataStore) -> Dict[str, int]:
    """How many executions (any state, all runs) each node has."""
    counts: Dict[str, int] = {}
    for execution in store.get_executions():
        name = component_name(store, execution)
        counts[name] = counts.get(name, 0) + 1
    return counts


def latest_pushed_model(store: mlmd.MetadataStore,
                        as_of: Optional[int] = None) -> Optional[str]:
    """Destination of the newest model the Pusher pushed, else None."""
    for artifact in _newest_first(store, _PUSHED_MODEL):
        if (artifact.custom_properties["pushed"].int_value == 1
                and _written_by(store, artifact.id, as_of)):
            return artifact.custom_properties["pushed_destination"].string_value
    return None


def served_model(store: mlmd.MetadataStore,
                 as_of: Optional[int] = None) -> Optional[ServedModel]:
    """The newest pushed model, as the Pusher execution that copied it
    recorded it (not a cache hit re-publishing the push, nor a push that
    found the model already served): when and by which run it was pushed,
    and the TopKEvaluator and TFMA evaluations that judged it."""
    pushes = []  # (Pusher execution, its PushedModel), newest first
    for execution in sorted(_executions_of(store, configs.PUSHER_ID, as_of,
                                           (_COMPLETE,)),
                            key=lambda e: e.id, reverse=True):
        artifact = _output(store, execution.id, "pushed_model")
        if artifact is not None and _int(artifact, "pushed") == 1:
            pushes.append((execution, artifact))
    if not pushes:
        return None
    destination = _str(pushes[0][1], "pushed_destination")
    # The oldest push of that version: the one that copied it.
    execution, artifact = [push for push in pushes if _str(
        push[1], "pushed_destination") == destination][-1]
    blessing = _input(store, execution.id, "model_blessing")
    judge = _producer(store, blessing.id) if blessing else None
    topk = _output(store, judge.id, "evaluation") if judge else None
    tfma_blessing = _input(store, judge.id, "tfma_blessing") if judge else None
    tfma_judge = (_producer(store, tfma_blessing.id) if tfma_blessing
                  else None)
    tfma = _output(store, tfma_judge.id, "evaluation") if tfma_judge else None
    model = _input(store, execution.id, "model")
    return ServedModel(
        destination=destination,
        version=_str(artifact, "pushed_version")
        or os.path.basename(destination.rstrip("/")),
        objective=_str(artifact, "objective") or None,
        model_uri=model.uri if model else None,
        pushed_at=_utc(execution.last_update_time_since_epoch),
        run_id=_run_of(store, execution.id),
        topk_uri=topk.uri if topk else None,
        tfma_uri=tfma.uri if tfma else None)


def latest_output(store: mlmd.MetadataStore, component: str,
                  output_key: str, as_of: Optional[int] = None
                  ) -> Optional[metadata_store_pb2.Artifact]:
    """The artifact a component's newest successful execution output under
    output_key (a cached execution counts: it re-publishes its outputs)."""
    executions = _executions_of(store, component, as_of,
                                (_COMPLETE, _CACHED))
    if not executions:
        return None
    return _output(store, max(executions, key=lambda e: e.id).id, output_key)


def latest_evaluation_uri(store: mlmd.MetadataStore,
                          component: str = configs.EVALUATOR_ID,
                          as_of: Optional[int] = None) -> Optional[str]:
    artifact = latest_output(store, component, "evaluation", as_of)
    return artifact.uri if artifact else None


def latest_blessing(store: mlmd.MetadataStore,
                    component: str = configs.TOPK_EVALUATOR_ID,
                    as_of: Optional[int] = None) -> Optional[bool]:
    """Whether the component's newest blessing blessed (None: no blessing)."""
    artifact = latest_output(store, component, "blessing", as_of)
    if artifact is None:
        return None
    return artifact.custom_properties["blessed"].int_value == 1


def below_popularity(topk: Dict, subject: str = "the model"
                     ) -> Optional[str]:
    """A plain warning when the model ranks below the popularity ranker on
    ndcg@k or precision@k in a TopKEvaluator evaluation (metrics.json),
    saying by how much; None when it does not (or has no popularity)."""
    model, popularity = topk.get("model", {}), topk.get("popularity", {})
    gaps = []
    for metric in ("ndcg@k", "precision@k"):
        if metric in model and metric in popularity and (
                model[metric] < popularity[metric]):
            name = metric.replace("@k", f"@{topk.get('k', 'k')}")
            times = (f"{popularity[metric] / model[metric]:.1f}x lower"
                     if model[metric] > 0 else "no hit at all")
            gaps.append(f"{name} {model[metric]:.4f} vs popularity's "
                        f"{popularity[metric]:.4f} ({times})")
    if not gaps:
        return None
    return (f"{subject} ranks below popularity: " + ", ".join(gaps)
            + "; recommending the most rated movies would do better")


def _executions_of(store: mlmd.MetadataStore, component: str,
                   as_of: Optional[int], states
                   ) -> List[metadata_store_pb2.Execution]:
    return [e for e in store.get_executions()
            if e.last_known_state in states
            and (as_of is None or e.id <= as_of)
            and component_name(store, e) == component]


def _events(store: mlmd.MetadataStore, execution_id: int, kind: int,
            key: str) -> List[int]:
    return [event.artifact_id
            for event in store.get_events_by_execution_ids([execution_id])
            if event.type == kind
            and event.path.steps and event.path.steps[0].key == key]


def _output(store: mlmd.MetadataStore, execution_id: int, key: str
            ) -> Optional[metadata_store_pb2.Artifact]:
    ids = _events(store, execution_id, metadata_store_pb2.Event.OUTPUT, key)
    return store.get_artifacts_by_id(ids)[0] if ids else None


def _input(store: mlmd.MetadataStore, execution_id: int, key: str
           ) -> Optional[metadata_store_pb2.Artifact]:
    ids = _events(store, execution_id, metadata_store_pb2.Event.INPUT, key)
    return store.get_artifacts_by_id(ids)[0] if ids else None


def _producer(store: mlmd.MetadataStore, artifact_id: int
              ) -> Optional[metadata_store_pb2.Execution]:
    """The execution that wrote an artifact (not a cache hit that
    re-published it): the first one that output it."""
    ids = sorted(event.execution_id for event in
                 store.get_events_by_artifact_ids([artifact_id])
                 if event.type == metadata_store_pb2.Event.OUTPUT)
    return store.get_executions_by_id(ids[:1])[0] if ids else None


def _written_by(store: mlmd.MetadataStore, artifact_id: int,
                as_of: Optional[int]) -> bool:
    """Whether an execution up to `as_of` (any, when None) output it."""
    producer = _producer(store, artifact_id)
    return as_of is None or (producer is not None and producer.id <= as_of)


def _run_of(store: mlmd.MetadataStore, execution_id: int) -> str:
    for context in store.get_contexts_by_execution(execution_id):
        if context.type == _RUN_CONTEXT:
            return context.name
    return ""


def _int(artifact: metadata_store_pb2.Artifact, name: str) -> int:
    value = artifact.custom_properties.get(name)
    return value.int_value if value is not None else 0


def _str(artifact: metadata_store_pb2.Artifact, name: str) -> str:
    value = artifact.custom_properties.get(name)
    return value.string_value if value is not None else ""


def _utc(milliseconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(milliseconds / 1000,
                                           tz=datetime.timezone.utc)


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


# TFMA's suffix of a candidate-minus-baseline delta (mean_absolute_error_diff).
TFMA_DIFF = "_diff"


def meaningful_tfma_metrics(metrics: Dict[str, float],
                            has_baseline: bool = True) -> Dict[str, float]:
    """TFMA's overall metrics without the *_diff deltas that say nothing:
    every one without a baseline, and each that is exactly zero (the
    example count's, or a model compared with itself)."""
    return {name: value for name, value in metrics.items()
            if not name.endswith(TFMA_DIFF) or (has_baseline and value != 0)}


def latest_examples(store: mlmd.MetadataStore,
                    component: str = configs.EXAMPLE_GEN_ID,
                    as_of: Optional[int] = None
                    ) -> Optional[standard_artifacts.Examples]:
    """The newest raw Examples, as the TFX artifact readers expect."""
    found = latest_output(store, component, "examples", as_of)
    if found is None:
        return None
    examples = standard_artifacts.Examples()
    examples.uri = found.uri
    examples.split_names = found.properties["split_names"].string_value
    return examples
