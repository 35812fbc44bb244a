"""The whole compiled KFP v2 / Vertex AI pipeline, executed task by task.

kubeflow_v2_runner.py compiles the pipeline with the settings and data of
the shared tiny local run (conftest.tiny_pipeline_run), pod paths being
local folders; kfp_v2_harness then runs every task of the PipelineJob JSON
in dependency order, each container task through its own command (TFX's
KFP v2 container entrypoint, and ExampleGen's preCacheCheck driver) in a
subprocess in an empty folder, its ExecutorInput built from the spec's
parameters and the upstream tasks' executor_output.json. The run must end
as the local one does: blessed by both evaluators, pushed as a numbered
SavedModel with the serving signatures, the same TFMA and top-k metrics.

Not covered (see kfp_v2_harness): the resolvers' queries against Vertex ML
Metadata (here, as on a first run, the baseline resolver finds nothing),
caching, retries, the KFP launcher/driver itself, GCS, images and pods.
The fast tests at the end check the harness on a hand-made spec.
"""
import json
import math
import os
import pathlib
import sys
import time

import pytest

import kfp_v2_harness as harness
from conftest import TINY_MODEL_FLAGS, PipelineRun
from pipeline import configs
from runtime import metadata_report

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the runners are scripts at the repo root
import kubeflow_v2_runner  # noqa: E402

CONTAINER_TASKS = {"CsvExampleGen", "ImportSchemaGen", "StatisticsGen",
                   "ExampleValidator", "AnomaliesGate", "Transform",
                   "Trainer", "Evaluator", "TopKEvaluator", "Pusher",
                   "BatchRecommender"}
RESOLVER_TASKS = {"baseline_model_resolver-model-blessing-resolver",
                  "baseline_model_resolver-model-resolver"}
SIGNATURES = ["serving_default", "serving_raw", "serving_topk"]


def compile_like(run: PipelineRun, pipeline_root: pathlib.Path) -> dict:
    """The PipelineJob JSON of the local run's settings and data: the local
    runner's Beam (in-memory, one worker) and schema, pod paths local."""
    output = pipeline_root.parent / "pipeline.json"
    assert kubeflow_v2_runner.main([
        "--image", "movielens-tfx:test", "--pipeline-root", str(pipeline_root),
        "--data-root", str(run.data_dir), "--schema-path", configs.SCHEMA_PATH,
        "--pipeline-name", run.pipeline_name, "--output", str(output),
        "--beam-preset", "local", "--beam-workers", "1",
        *TINY_MODEL_FLAGS]) == 0
    return json.loads(output.read_text())


@pytest.fixture(scope="module")
def job(tiny_pipeline_run, tmp_path_factory) -> dict:
    """The compiled job and what each of its tasks did."""
    root = tmp_path_factory.mktemp("kfp_v2") / "pipeline_root"
    compiled = compile_like(tiny_pipeline_run, root)
    start = time.monotonic()
    tasks = harness.run_job(compiled)
    print(f"KFP v2 job: {time.monotonic() - start:.0f} s; " + ", ".join(
        f"{name} {run.seconds:.0f} s" for name, run in tasks.items()))
    return {"spec": compiled["pipelineSpec"], "tasks": tasks, "root": root}


@pytest.fixture(scope="module")
def local_store(tiny_pipeline_run):
    return metadata_report.open_store(tiny_pipeline_run.metadata_path)


def output(job: dict, task: str, key: str) -> dict:
    [artifact] = job["tasks"][task].outputs[key]
    return artifact


def test_every_task_ran_with_the_artifacts_the_spec_names(job):
    tasks = job["tasks"]
    assert {t for t, run in tasks.items()
            if run.kind == "container"} == CONTAINER_TASKS
    # First run: no blessed model anywhere, so no baseline to compare with.
    assert {t for t, run in tasks.items()
            if run.kind == "resolver"} == RESOLVER_TASKS
    assert all(tasks[t].outputs == {key: [] for key in tasks[t].outputs}
               for t in RESOLVER_TASKS)
    trainer_inputs = tasks["Trainer"].executor_input["inputs"]["artifacts"]
    [examples] = trainer_inputs["examples"]["artifacts"]
    assert examples == output(job, "Transform", "transformed_examples")
    # What the Transform's executor wrote reached the Trainer.
    assert json.loads(examples["metadata"]["split_names"]) == ["train", "eval"]
    assert examples["uri"] == str(job["root"] / harness.JOB_ID / "Transform"
                                  / "transformed_examples")
    # ExampleGen's preCacheCheck driver ran: the input fingerprint it wrote
    # reached the executor's output artifact.
    metadata = output(job, "CsvExampleGen", "examples")["metadata"]
    assert metadata["input_fingerprint"].startswith(
        "split:single_split,num_files:1,")


def test_both_evaluators_bless_the_model(job, local_store):
    for task in ("Evaluator", "TopKEvaluator"):
        blessing = output(job, task, "blessing")
        assert blessing["metadata"]["blessed"] == 1.0, task
        assert os.listdir(blessing["uri"]) == ["BLESSED"], task
    assert metadata_report.latest_blessing(local_store) is True
    model = output(job, "Trainer", "model")
    assert output(job, "TopKEvaluator", "blessing")["metadata"][
        "current_model"] == model["uri"]


def test_the_blessed_model_is_pushed_with_its_signatures(job):
    import tensorflow as tf
    push = json.loads(job["spec"]["root"]["dag"]["tasks"]["Pusher"]["inputs"][
        "parameters"]["push_destination"]["runtimeValue"]["constantValue"][
        "stringValue"])
    serving = pathlib.Path(push["filesystem"]["base_directory"])
    assert serving == job["root"] / "serving_model"
    [version] = os.listdir(serving)
    assert version.isdigit()
    pushed = output(job, "Pusher", "pushed_model")["metadata"]
    assert pushed["pushed"] == 1.0
    assert pushed["pushed_destination"] == str(serving / version)
    model = tf.saved_model.load(str(serving / version))
    assert set(SIGNATURES) <= set(model.signatures)


def test_metrics_equal_the_local_runs(job, local_store):
    from components.topk_evaluator.executor import read_evaluation
    topk = read_evaluation(output(job, "TopKEvaluator", "evaluation")["uri"])
    local_topk = read_evaluation(metadata_report.latest_evaluation_uri(
        local_store, configs.TOPK_EVALUATOR_ID))
    assert topk["k"] == local_topk["k"] == 10
    assert_close(topk["model"], local_topk["model"])
    tfma = metadata_report.overall_metrics(
        output(job, "Evaluator", "evaluation")["uri"])
    local_tfma = metadata_report.overall_metrics(
        metadata_report.latest_evaluation_uri(local_store))
    assert "root_mean_squared_error" in tfma
    assert_close(tfma, local_tfma)


def test_recommendations_are_the_local_runs(job, local_store):
    """The served model's lists, from the pushed version's pod path: the
    local run's movies in the same order, its scores to float precision."""
    import pandas as pd
    recommendations = output(job, "BatchRecommender", "recommendations")
    pushed = output(job, "Pusher", "pushed_model")["metadata"]
    assert recommendations["metadata"]["recommended"] == 1.0
    assert recommendations["metadata"]["model_uri"] == (
        pushed["pushed_destination"])
    local = metadata_report.latest_output(
        local_store, configs.BATCH_RECOMMENDER_ID, "recommendations")
    rows, local_rows = (
        pd.read_csv(os.path.join(uri, "recommendations.csv"),
                    keep_default_na=False)
        for uri in (recommendations["uri"], local.uri))
    assert len(rows) == 600
    columns = ["user_id", "rank", "item_id", "title", "genres"]
    assert rows[columns].equals(local_rows[columns])
    assert rows["score"].to_numpy() == pytest.approx(
        local_rows["score"].to_numpy(), rel=1e-5)


def assert_close(metrics: dict, expected: dict) -> None:
    numbers = {k: v for k, v in expected.items()
               if isinstance(v, (int, float))}
    assert numbers and set(numbers) <= set(metrics)
    for name, value in numbers.items():
        assert math.isclose(metrics[name], value, rel_tol=1e-6,
                            abs_tol=1e-9), (name, metrics[name], value)


# ------------------------------------------ the harness on a hand-made spec

# A container that records what it was given: its ExecutorInput ({{$}}) and
# the other placeholders, as metadata of its one output artifact.
_ECHO = """import json, sys
invocation, parameter, uri = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
[out] = invocation["outputs"]["artifacts"]["out"]["artifacts"]
out["metadata"] = {"parameter": parameter, "uri_arg": uri,
                   "inputs": invocation["inputs"]["artifacts"]}
open(invocation["outputs"]["outputFile"], "w").write(
    json.dumps({"artifacts": {"out": {"artifacts": [out]}}}))
"""
_TYPE = {"schemaTitle": "system.Artifact"}


def tiny_job(root: pathlib.Path, script: str = _ECHO) -> dict:
    """importer -> first; resolver and first -> second (only by reference)."""
    echo = {"container": {
        "image": "x", "command": ["python", "-c", script],
        "args": ["{{$}}", "{{$.inputs.parameters['n']}}",
                 "{{$.outputs.artifacts['out'].uri}}"]}}
    out = {"artifacts": {"out": {"artifactType": _TYPE}}}

    def task(name, inputs):
        return {"componentRef": {"name": name}, "inputs": {
            "parameters": {"n": {"runtimeValue": {"constantValue": {
                "intValue": "3"}}}},
            "artifacts": {key: {"taskOutputArtifact": {
                "producerTask": producer, "outputArtifactKey": out_key}}
                for key, (producer, out_key) in inputs.items()}}}
    return {"runtimeConfig": {"gcsOutputDirectory": str(root)},
            "pipelineSpec": {
                "root": {"dag": {"tasks": {
                    "second": task("second", {"a": ("first", "out"),
                                              "b": ("base", "model")}),
                    "first": task("first", {"data": ("imp", "artifact")}),
                    "base": {"componentRef": {"name": "base"}},
                    "imp": {"componentRef": {"name": "imp"}}}}},
                "components": {
                    "first": {"executorLabel": "echo",
                              "outputDefinitions": out},
                    "second": {"executorLabel": "echo",
                               "outputDefinitions": out},
                    "base": {"executorLabel": "res"},
                    "imp": {"executorLabel": "imp", "outputDefinitions": {
                        "artifacts": {"artifact": {"artifactType": _TYPE}}}}},
                "deploymentSpec": {"executors": {
                    "echo": echo,
                    "res": {"resolver": {"outputArtifactQueries": {
                        "model": {"filter": "schema_title=\"tfx.Model\""}}}},
                    "imp": {"importer": {
                        "artifactUri": {"constantValue": {
                            "stringValue": "gs://b/data"}},
                        "typeSchema": _TYPE}}}}}}


def test_harness_passes_artifacts_and_placeholders_as_the_launcher(tmp_path):
    tasks = harness.run_job(tiny_job(tmp_path))
    order = list(tasks)
    assert order.index("imp") < order.index("first") < order.index("second")
    assert order.index("base") < order.index("second")
    first = output({"tasks": tasks}, "first", "out")
    assert first["uri"] == str(tmp_path / harness.JOB_ID / "first" / "out")
    assert first["metadata"]["parameter"] == "3"
    assert first["metadata"]["uri_arg"] == first["uri"]
    [imported] = first["metadata"]["inputs"]["data"]["artifacts"]
    assert imported["uri"] == "gs://b/data"
    inputs = output({"tasks": tasks}, "second", "out")["metadata"]["inputs"]
    assert inputs["b"] == {"artifacts": []}
    # The downstream task sees the metadata its producer wrote.
    [upstream] = inputs["a"]["artifacts"]
    assert upstream["metadata"]["uri_arg"] == first["uri"]
    assert upstream["type"] == _TYPE


def test_harness_stops_at_a_failing_task_or_an_unknown_placeholder(
        tmp_path):
    with pytest.raises(harness.TaskFailed, match="first.*exited 3"):
        harness.run_job(tiny_job(tmp_path / "a", "raise SystemExit(3)"))
    job = tiny_job(tmp_path / "b")
    job["pipelineSpec"]["deploymentSpec"]["executors"]["echo"]["container"][
        "args"].append("{{$.outputs.parameters['p'].output_file}}")
    with pytest.raises(ValueError, match="unsupported placeholder"):
        harness.run_job(job)
