"""Executes a compiled KFP v2 / Vertex AI PipelineJob spec here, task by task.

What a KFP v2 launcher does for each task, without the launcher: the tasks of
`root.dag` in dependency order (`dependentTasks` and the `producerTask` of
every `taskOutputArtifact` input); for a container task, an ExecutorInput
built from the spec alone (parameters: the tasks' `runtimeValue` constants;
input artifacts: what the producing task's executor_output.json wrote, with
the type its output definition declares; output artifacts: fresh URIs under
the job's `gcsOutputDirectory`), then the container's own `command` and
`args` (its `lifecycle.preCacheCheck` first, if any) in a subprocess started
in an empty folder, the spec's placeholders replaced the way the launcher
replaces them. `python` in a command is this interpreter: the image's Python
is this environment's.

Tasks that run no container are done as on a pipeline's first run against
an empty metadata store: a resolver finds nothing (every output key an empty
list), an importer yields one artifact at its constant URI.

Not covered: resolvers' queries against Vertex ML Metadata, caching
(`cachingOptions` are ignored and every task runs), retries, the KFP
launcher/driver itself (this module stands in for it), GCS and pods.
"""
import dataclasses
import graphlib
import json
import os
import pathlib
import re
import subprocess
import sys
import time
from typing import Any, Dict, List, Mapping, Optional

V2_ENTRYPOINT = ("tfx.orchestration.kubeflow.v2.container."
                 "kubeflow_v2_run_executor")
# How Vertex AI names artifacts; TFX's entrypoint hashes names into ids.
VERTEX_ARTIFACT = ("projects/1234/locations/europe-west4/metadataStores/"
                   "default/artifacts/{}")
JOB_ID = "local-job"
OUTPUT_FILE = "executor_output.json"
TASK_TIMEOUT_S = 900

# {{$}}, {{$.inputs.parameters['x']}}, {{$.outputs.artifacts['x'].uri}}...
_PLACEHOLDER = re.compile(r"\{\{\$(?P<path>[^}]*)\}\}")
_FIELD = re.compile(r"^\.(?P<side>inputs|outputs)\.(?P<kind>parameters|"
                    r"artifacts)\['(?P<key>[^']+)'\](?P<attr>\.uri|\.path)?$")

RuntimeArtifact = Dict[str, Any]
Artifacts = Dict[str, List[RuntimeArtifact]]


class TaskFailed(AssertionError):
    """A task's process exited non-zero; the message ends with its stderr."""


@dataclasses.dataclass
class TaskRun:
    """What one task of the job got and produced."""
    name: str
    kind: str  # container, resolver or importer
    outputs: Artifacts  # as downstream tasks receive them
    executor_input: Optional[dict] = None
    executor_output: Optional[dict] = None
    seconds: float = 0.0


def pod_env() -> Dict[str, str]:
    """This environment as a pod's: the package installed, no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def executor_kind(spec: dict, task: str) -> str:
    """container, resolver or importer."""
    [kind] = executor(spec, task)
    return kind


def component_name(spec: dict, task: str) -> str:
    return spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]


def executor(spec: dict, task: str) -> dict:
    label = spec["components"][component_name(spec, task)]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]


def task_order(spec: dict) -> List[str]:
    """Tasks in dependency order: after their `dependentTasks` and the
    producers of their inputs (TFX's compiler lists no dependentTasks for
    the second resolver task, which reads the first one's output)."""
    graph = {name: sorted(set(task.get("dependentTasks", []))
                          | set(input_producers(task).values()))
             for name, task in sorted(spec["root"]["dag"]["tasks"].items())}
    return list(graphlib.TopologicalSorter(graph).static_order())


def input_producers(task: dict) -> Dict[str, str]:
    """{input key: producing task} of a task's artifact inputs."""
    refs = task.get("inputs", {}).get("artifacts", {})
    return {key: ref["taskOutputArtifact"]["producerTask"]
            for key, ref in refs.items()}


def input_artifacts(spec: dict, task: str,
                    done: Mapping[str, TaskRun]) -> Artifacts:
    """{key: artifacts} a task reads: its producers' recorded outputs."""
    refs = spec["root"]["dag"]["tasks"][task].get("inputs", {}).get(
        "artifacts", {})
    result = {}
    for key, ref in refs.items():
        source = ref["taskOutputArtifact"]
        result[key] = done[source["producerTask"]].outputs[
            source["outputArtifactKey"]]
    return result


def input_parameters(spec: dict, task: str) -> Dict[str, dict]:
    """The task's parameters as schema 2.0.0 ExecutorInput values
    ({"stringValue": ...}); only constants: the pipeline has no runtime
    parameters."""
    parameters = spec["root"]["dag"]["tasks"][task].get("inputs", {}).get(
        "parameters", {})
    return {name: value["runtimeValue"]["constantValue"]
            for name, value in parameters.items()}


def output_artifacts(spec: dict, task: str,
                     task_dir: pathlib.Path) -> Artifacts:
    """Fresh output artifacts, as Vertex makes them: <task dir>/<key>."""
    definitions = spec["components"][component_name(spec, task)].get(
        "outputDefinitions", {}).get("artifacts", {})
    return {key: [{"name": VERTEX_ARTIFACT.format(f"{task}-{key}"),
                   "type": definition["artifactType"],
                   "uri": str(task_dir / key)}]
            for key, definition in definitions.items()}


def executor_input(parameters: Dict[str, dict], inputs: Artifacts,
                   outputs: Artifacts, task_dir: pathlib.Path) -> dict:
    """The ExecutorInput a KFP v2 launcher substitutes for `{{$}}`."""
    return {"inputs": {"parameters": parameters,
                       "artifacts": {key: {"artifacts": artifacts}
                                     for key, artifacts in inputs.items()}},
            "outputs": {"artifacts": {key: {"artifacts": artifacts}
                                      for key, artifacts in outputs.items()},
                        "outputFile": str(task_dir / OUTPUT_FILE)}}


def resolve_placeholders(arg: str, invocation: dict) -> str:
    """arg with every `{{$...}}` replaced as the launcher replaces it; an
    unknown placeholder is an error, never passed on verbatim."""
    def replace(match: re.Match) -> str:
        path = match.group("path")
        if not path:
            return json.dumps(invocation)
        field = _FIELD.match(path)
        if not field:
            raise ValueError(f"unsupported placeholder {match.group(0)}")
        side = invocation[field["side"]]
        if field["kind"] == "parameters":
            [value] = side["parameters"][field["key"]].values()
            return str(value)
        [artifact] = side["artifacts"][field["key"]]["artifacts"]
        return artifact["uri"]  # .path: the same folder, no GCS FUSE here
    return _PLACEHOLDER.sub(replace, arg)


def process_argv(container: dict, invocation: dict) -> List[str]:
    """The container's command and args, ready to run here."""
    command = [sys.executable if part == "python" else part
               for part in container["command"]]
    return [resolve_placeholders(part, invocation)
            for part in command + container.get("args", [])]


def run_step(container: dict, invocation: dict, cwd: pathlib.Path,
             task: str) -> None:
    """One command of a container in a fresh, empty folder, as a pod."""
    argv = process_argv(container, invocation)
    cwd.mkdir(parents=True)
    result = subprocess.run(argv, cwd=cwd, env=pod_env(), capture_output=True,
                            text=True, timeout=TASK_TIMEOUT_S)
    if result.returncode != 0:
        raise TaskFailed(f"{task}: {' '.join(argv[:3])[:200]} exited "
                         f"{result.returncode}:\n{result.stderr[-5000:]}")


def recorded_outputs(declared: Artifacts, written: dict) -> Artifacts:
    """What the launcher records for downstream tasks: each declared output
    with the name, URI and metadata executor_output.json gives it."""
    result = {}
    for key, [artifact] in declared.items():
        found = written.get("artifacts", {}).get(key, {}).get("artifacts")
        result[key] = [{**artifact, **found[0]} if found else artifact]
    return result


def run_container_task(spec: dict, task: str, task_dir: pathlib.Path,
                       done: Mapping[str, TaskRun]) -> TaskRun:
    """The container's preCacheCheck hook (if any), then its command, each
    in a clean folder; returns what executor_output.json recorded."""
    start = time.monotonic()
    task_dir.mkdir(parents=True)  # as the launcher prepares output folders
    parameters = input_parameters(spec, task)
    inputs = input_artifacts(spec, task, done)
    outputs = output_artifacts(spec, task, task_dir)
    container = executor(spec, task)["container"]
    hook = container.get("lifecycle", {}).get("preCacheCheck")
    if hook:
        # The hook (ExampleGen's span/fingerprint driver) writes the output
        # file; Vertex updates the output artifacts from it before the
        # executor runs (TFX's file_based_example_gen/driver.py), and the
        # executor reads the file's parameters itself.
        run_step(hook, executor_input(parameters, inputs, outputs, task_dir),
                 task_dir.with_name(f".{task}-hook-cwd"), task)
        outputs = recorded_outputs(outputs, read_output_file(task_dir))
    invocation = executor_input(parameters, inputs, outputs, task_dir)
    run_step(container, invocation, task_dir.with_name(f".{task}-cwd"), task)
    written = read_output_file(task_dir)
    return TaskRun(task, "container", recorded_outputs(outputs, written),
                   invocation, written, time.monotonic() - start)


def read_output_file(task_dir: pathlib.Path) -> dict:
    return json.loads((task_dir / OUTPUT_FILE).read_text())


def resolve_first_run(spec: dict, task: str) -> TaskRun:
    """A resolver against an empty metadata store: nothing found."""
    queries = executor(spec, task)["resolver"]["outputArtifactQueries"]
    return TaskRun(task, "resolver", {key: [] for key in queries})


def import_artifact(spec: dict, task: str) -> TaskRun:
    """An importer's one artifact at its constant URI (a first import)."""
    importer = executor(spec, task)["importer"]
    [key] = spec["components"][component_name(spec, task)][
        "outputDefinitions"]["artifacts"]
    uri = importer["artifactUri"]["constantValue"]["stringValue"]
    artifact = {"name": VERTEX_ARTIFACT.format(f"{task}-{key}"),
                "type": importer["typeSchema"], "uri": uri,
                "metadata": importer.get("metadata", {})}
    return TaskRun(task, "importer", {key: [artifact]})


def run_job(job: dict) -> Dict[str, TaskRun]:
    """Every task of a PipelineJob JSON, in dependency order, under its
    gcsOutputDirectory; {task: TaskRun}. Raises TaskFailed on the first
    task that fails."""
    spec = job["pipelineSpec"]
    root = pathlib.Path(job["runtimeConfig"]["gcsOutputDirectory"]) / JOB_ID
    done: Dict[str, TaskRun] = {}
    for task in task_order(spec):
        kind = executor_kind(spec, task)
        if kind == "container":
            done[task] = run_container_task(spec, task, root / task, done)
        elif kind == "resolver":
            done[task] = resolve_first_run(spec, task)
        elif kind == "importer":
            done[task] = import_artifact(spec, task)
        else:
            raise ValueError(f"{task}: unknown executor kind {kind!r}")
    return done
