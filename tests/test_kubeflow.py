"""The Kubeflow runners, the image and a pod's view of the code, offline.

No cluster here, so everything short of one: both runners compile the local
pipeline (KFP v1 Argo workflow, KFP v2 / Vertex PipelineJob JSON); the specs
must hold every component with the local dependencies, the image, the Beam
arguments and pod paths only, and the Dockerfile is checked against the
installed stack. test_kfp_v2_pipeline.py runs every task of the v2 spec.
"""
import json
import os
import pathlib
import re
import runpy
import subprocess
import sys
import tarfile
from typing import Optional

import pytest
import yaml

from conftest import TINY_MODEL_FLAGS
from kfp_v2_harness import pod_env
from pipeline import beam_args, cluster_options

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the runners are scripts at the repo root
import kubeflow_runner  # noqa: E402
import kubeflow_v2_runner  # noqa: E402

IMAGE = "europe-docker.pkg.dev/recsys-prod/ml/movielens-tfx:2024-06-01"
PIPELINE_ROOT = "gs://recsys-pipelines/tfx/movielens"
DATA_ROOT = "gs://recsys-data/movielens/ml-100k"
BEAM_FLAGS = ["--beam-preset", "direct", "--beam-workers", "2",
              "--beam-arg=--job_name=movielens-kfp"]
# The pod's image named as the SDK image: TFX stages no sdist of itself.
EXPECTED_BEAM_ARGS = ["--runner=DirectRunner",
                      "--direct_running_mode=multi_processing",
                      "--direct_num_workers=2",
                      f"--sdk_container_image={IMAGE}",
                      "--job_name=movielens-kfp"]
BEAM_COMPONENTS = {"CsvExampleGen", "StatisticsGen", "Transform", "Evaluator",
                   "TopKEvaluator", "BatchRecommender"}
RESOLVER = "baseline_model_resolver"
TOPK_EXECUTOR = "components.topk_evaluator.executor.Executor"
# The specs are compiled with the user-stratified split, so that a pod must
# import the project's own ExampleGen executor too.
SPLIT_FLAGS = ["--split", "user_stratified", "--split-seed", "7"]
STRATIFIED_EXECUTOR = "components.stratified_example_gen.executor.Executor"


def runner_argv(output: Optional[pathlib.Path] = None) -> list:
    return ["--image", IMAGE, "--pipeline-root", PIPELINE_ROOT,
            "--data-root", DATA_ROOT,
            *(["--output", str(output)] if output else []),
            *BEAM_FLAGS, *SPLIT_FLAGS, *TINY_MODEL_FLAGS]


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    """Both runners' CLI, in this process; the specs as text and parsed.
    The v1 runner without --output, from a folder of its own: its spec
    goes to outputs/kubeflow/ there."""
    out = tmp_path_factory.mktemp("specs")
    cwd = os.getcwd()
    (out / "v1").mkdir()
    os.chdir(out / "v1")
    try:
        assert kubeflow_runner.main(runner_argv()) == 0
    finally:
        os.chdir(cwd)
    v1_path = (out / "v1" / "outputs" / "kubeflow"
               / "movielens-wide-deep.tar.gz")
    assert kubeflow_v2_runner.main(runner_argv(out / "v2" / "spec.json")) == 0
    with tarfile.open(v1_path) as package:
        v1_text = package.extractfile("pipeline.yaml").read().decode()
    v2_text = (out / "v2" / "spec.json").read_text()
    return {"v1_text": v1_text, "v1": yaml.safe_load(v1_text),
            "v2_text": v2_text, "v2": json.loads(v2_text)["pipelineSpec"],
            "v2_job": json.loads(v2_text),
            "sizes": {"v1": v1_path.stat().st_size, "v2": len(v2_text)}}


@pytest.fixture(scope="module")
def local_upstream(tmp_path_factory):
    """{component id: upstream ids} of the pipeline local_runner runs."""
    from pipeline.pipeline import create_pipeline
    from pipeline.settings import PipelinePaths
    from trainer_module.hparams import HParams
    root = tmp_path_factory.mktemp("local")
    local = create_pipeline(
        pipeline_name="local",
        paths=PipelinePaths(pipeline_root=str(root / "pipeline"),
                            data_root=str(root / "data"),
                            serving_model_dir=str(root / "serving")),
        hparams=HParams())
    return {c.id: {u.id for u in c.upstream_nodes} for c in local.components}


def v1_containers(workflow: dict) -> dict:
    """{node id: container} of the Argo workflow's component templates."""
    result = {}
    for template in workflow["spec"]["templates"]:
        if "container" in template:
            args = template["container"]["args"]
            result[args[args.index("--node_id") + 1]] = template
    return result


def v1_ir(template: dict) -> dict:
    args = template["container"]["args"]
    return json.loads(args[args.index("--tfx_ir") + 1])


def v1_dependencies(workflow: dict) -> dict:
    names = {t["name"]: node for node, t in v1_containers(workflow).items()}
    dag = next(t["dag"] for t in workflow["spec"]["templates"] if "dag" in t)
    return {names[task["template"]]: {names[d] for d in
                                      task.get("dependencies", [])}
            for task in dag["tasks"]}


def v2_node(task_name: str) -> str:
    """The v2 compiler splits the resolver into two tasks."""
    return re.sub(r"-model(-blessing)?-resolver$", "", task_name)


def v2_dependencies(spec: dict) -> dict:
    result = {}
    for name, task in spec["root"]["dag"]["tasks"].items():
        deps = {v2_node(d) for d in task.get("dependentTasks", [])}
        result.setdefault(v2_node(name), set()).update(deps - {v2_node(name)})
    return result


def v2_containers(spec: dict) -> dict:
    return {label: executor["container"] for label, executor in
            spec["deploymentSpec"]["executors"].items()
            if "container" in executor}


def test_both_specs_hold_every_local_component_with_its_dependencies(
        specs, local_upstream):
    assert len(local_upstream) == 12
    assert {"TopKEvaluator", "AnomaliesGate", RESOLVER,
            "BatchRecommender"} <= set(local_upstream)
    assert local_upstream["BatchRecommender"] == {"Pusher", "CsvExampleGen"}
    assert local_upstream["Transform"] == {"CsvExampleGen", "ImportSchemaGen",
                                           "AnomaliesGate"}
    assert v1_dependencies(specs["v1"]) == local_upstream
    # On v2 the baseline is TFX's LatestBlessedModelStrategy, which reads no
    # channel of this run (locally and on v1 it leaves the Trainer's model
    # out: docs/architecture.md, Caching).
    assert local_upstream[RESOLVER] == {"Trainer"}
    assert v2_dependencies(specs["v2"]) == {**local_upstream, RESOLVER: set()}
    assert len(specs["v2"]["root"]["dag"]["tasks"]) == 13  # resolver: 2 tasks


def test_every_container_runs_the_image_and_sees_only_pod_paths(specs):
    v1 = v1_containers(specs["v1"])
    assert len(v1) == 12
    assert {t["container"]["image"] for t in v1.values()} == {IMAGE}
    v2 = v2_containers(specs["v2"])
    assert len(v2) == 11  # every component but the resolver
    assert {c["image"] for c in v2.values()} == {IMAGE}
    for text in (specs["v1_text"], specs["v2_text"]):
        for local in (str(REPO), "/tmp", str(pathlib.Path.home()),
                      os.path.realpath("/tmp")):
            assert local not in text
        # The paths it does hold are the pods' ones.
        assert cluster_options.IMAGE_SCHEMA_PATH in text
        assert DATA_ROOT in text and f"{PIPELINE_ROOT}/serving_model" in text
        # The BatchRecommender's titles: the items file beside the data.
        assert f"{DATA_ROOT}-items.csv" in text
    assert specs["v2_job"]["runtimeConfig"]["gcsOutputDirectory"] == (
        PIPELINE_ROOT)


def test_specs_carry_the_configured_beam_args_and_hparams(specs):
    for node, template in v1_containers(specs["v1"]).items():
        spec = v1_ir(template)["deploymentConfig"].get("executorSpecs", {})
        args = spec.get(node, {}).get("beamPipelineArgs")
        assert args == (EXPECTED_BEAM_ARGS if node in BEAM_COMPONENTS
                        else None), node
    for label, container in v2_containers(specs["v2"]).items():
        beam = container["args"][-len(EXPECTED_BEAM_ARGS):]
        assert beam == EXPECTED_BEAM_ARGS, label
    # The model flags reach the Trainer (TINY_MODEL_FLAGS: 16,8 units).
    trainer = json.dumps(v1_ir(v1_containers(specs["v1"])["Trainer"]))
    assert r'\"hidden_units\": [16, 8]' in trainer
    custom = specs["v2"]["root"]["dag"]["tasks"]["Trainer"]["inputs"][
        "parameters"]["custom_config"]["runtimeValue"]["constantValue"]
    assert json.loads(custom["stringValue"])["hparams"]["hidden_units"] == [
        16, 8]


def test_custom_executor_class_path_is_in_both_specs_and_importable(specs):
    from components.topk_evaluator.component import TopKEvaluator
    from tfx.utils import import_utils
    ir = v1_ir(v1_containers(specs["v1"])["TopKEvaluator"])
    spec = ir["deploymentConfig"]["executorSpecs"]["TopKEvaluator"]
    assert spec["pythonExecutorSpec"]["classPath"] == TOPK_EXECUTOR
    args = v2_containers(specs["v2"])["TopKEvaluator_executor"]["args"]
    assert args[args.index("--executor_class_path") + 1] == TOPK_EXECUTOR
    assert (import_utils.import_class_by_path(TOPK_EXECUTOR)
            is TopKEvaluator.EXECUTOR_SPEC.executor_class)


@pytest.mark.e2e  # a cluster path: a pod's imports, in a new process
def test_pods_import_every_executor_and_module_from_a_clean_folder(
        specs, tmp_path):
    """As in a pod, from the installed package only: every executor class
    path of the v2 spec, and the Dockerfile's own import check."""
    paths = sorted({c["args"][c["args"].index("--executor_class_path") + 1]
                    for c in v2_containers(specs["v2"]).values()})
    assert TOPK_EXECUTOR in paths and any("AnomaliesGate" in p for p in paths)
    assert STRATIFIED_EXECUTOR in paths
    module = TOPK_EXECUTOR.rsplit(".", 1)[0]
    [image_check] = [s for s in dockerfile_scripts()
                     if s.startswith(f"import {module}")]
    code = (f"{image_check}; import sys; from tfx.utils import import_utils; "
            f"[import_utils.import_class_by_path(p) for p in sys.argv[1:]]")
    result = subprocess.run([sys.executable, "-c", code, *paths],
                            cwd=tmp_path, env=pod_env(), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def test_resolver_keeps_its_producer_filter_on_v1_but_not_on_v2(specs):
    inputs = v1_ir(v1_containers(specs["v1"])[RESOLVER])["nodes"][0][
        "pipelineNode"]["inputs"]["inputs"]
    [pushes] = inputs["_Pusher.pushed_model"]["channels"]
    assert pushes["outputKey"] == "pushed_model"
    assert pushes["contextQueries"][-1]["name"]["fieldValue"][
        "stringValue"].endswith(".Pusher")
    # KFP v2 compiles LatestBlessedModelStrategy to a query over every
    # blessed ModelBlessing: the TFMA Evaluator's count too.
    executors = specs["v2"]["deploymentSpec"]["executors"]
    query = executors[f"{RESOLVER}-model-blessing-resolver_executor"][
        "resolver"]["outputArtifactQueries"]["model_blessing"]["filter"]
    assert query == ('schema_title="tfx.ModelBlessing" AND state=LIVE AND '
                     'metadata.blessed.number_value=1')


def test_cli_refuses_what_cannot_work_in_a_cluster(capsys):
    required = ["--image", IMAGE, "--pipeline-root", PIPELINE_ROOT,
                "--data-root", DATA_ROOT]
    bad = {
        "--data-dir is a local_runner flag; use --data-root": [
            *required, "--data", "data/ml-100k"],
        "must be a URL": ["--image", IMAGE, "--pipeline-root", "outputs",
                          "--data-root", DATA_ROOT],
        "missing Beam setting(s): project, region": [
            *required, "--beam-preset", "dataflow",
            "--temp-location", "gs://b/tmp"],
        "--image": required[2:],
    }
    for message, argv in bad.items():
        with pytest.raises(SystemExit):
            cluster_options.parse_cluster_args(argv, "", "x")
        assert message in capsys.readouterr().err
    args = cluster_options.parse_cluster_args(
        [*required, "--beam-preset", "dataflow", "--project", "p",
         "--region", "europe-west4", "--temp-location", "gs://b/tmp",
         "--epochs", "3", "--min-ndcg", "0.05"], "", "x")
    assert args.beam_pipeline_args == [
        "--runner=DataflowRunner", "--project=p", "--region=europe-west4",
        "--temp_location=gs://b/tmp", f"--sdk_container_image={IMAGE}"]
    assert (args.epochs, args.min_ndcg) == (3, 0.05)
    assert cluster_options.pipeline_paths(args).serving_model_dir == (
        f"{PIPELINE_ROOT}/serving_model")


def test_beam_presets():
    # Local: Beam's defaults (DirectRunner in memory, one worker) need no
    # argument, and with none TFX builds no tfx_ephemeral sdist; N
    # processes name an image the DirectRunner ignores, for the same reason.
    assert beam_args.local(1) == []
    assert beam_args.local(4) == [
        *beam_args.direct(4),
        "--sdk_container_image=unused-by-the-direct-runner"]
    assert beam_args.direct() == ["--runner=DirectRunner",
                                  "--direct_running_mode=multi_processing",
                                  "--direct_num_workers=0"]
    timeout = "--job_server_timeout=86400"  # a day, not Beam's 60 s
    assert beam_args.portable("localhost:8099",
                              extra_packages=["/w/p.whl"]) == [
        "--runner=PortableRunner", "--job_endpoint=localhost:8099",
        "--environment_type=EXTERNAL", "--environment_config=localhost:50000",
        timeout, "--extra_package=/w/p.whl"]
    # Workers running the image: TFX is told so and stages nothing.
    assert beam_args.flink("flink-jobserver:8099", image=IMAGE) == [
        "--runner=PortableRunner", "--job_endpoint=flink-jobserver:8099",
        "--environment_type=EXTERNAL", "--environment_config=localhost:50000",
        timeout, f"--sdk_container_image={IMAGE}"]
    assert beam_args.spark("spark-jobserver:8099", "DOCKER", image=IMAGE,
                           job_server_timeout=600) == [
        "--runner=PortableRunner", "--job_endpoint=spark-jobserver:8099",
        "--environment_type=DOCKER", f"--environment_config={IMAGE}",
        "--job_server_timeout=600", f"--sdk_container_image={IMAGE}"]
    with pytest.raises(ValueError, match="temp_location"):
        beam_args.dataflow("p", "r", "/tmp/x", IMAGE)
    with pytest.raises(ValueError, match="job_endpoint"):
        beam_args.portable("")
    args = cluster_options.parse_cluster_args(
        ["--image", IMAGE, "--pipeline-root", PIPELINE_ROOT, "--data-root",
         DATA_ROOT, "--beam-preset", "portable", "--job-endpoint", "js:8099",
         "--extra-package", "gs://b/p.whl", "--job-server-timeout", "7200"],
        "", "x")
    assert args.beam_pipeline_args == [
        "--runner=PortableRunner", "--job_endpoint=js:8099",
        "--environment_type=EXTERNAL", "--environment_config=localhost:50000",
        "--job_server_timeout=7200", "--extra_package=gs://b/p.whl"]


def test_runner_modules_import_no_tensorflow():
    code = ("import sys, kubeflow_runner, kubeflow_v2_runner; heavy = "
            "[m for m in ('tensorflow', 'tfx', 'apache_beam', 'kfp') "
            "if m in sys.modules]; assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def dockerfile_steps() -> list:
    """(instruction, arguments) of the Dockerfile, continuations joined."""
    lines = [line.strip() for line in dockerfile_text().splitlines()]
    return [tuple(line.split(None, 1)) for line in lines
            if line and not line.startswith("#")]


def test_dockerfile_builds_on_the_installed_tfx_and_copies_every_package(
        monkeypatch):
    import setuptools
    from tfx import version
    steps = dockerfile_steps()
    lock = (REPO / "requirements.lock").read_text()
    [lock_tfx] = re.findall(r"^tfx==(\S+)$", lock, re.MULTILINE)
    assert steps[0] == ("FROM", f"tensorflow/tfx:{version.__version__}")
    assert lock_tfx == version.__version__

    setup = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: setup.update(kw))
    monkeypatch.chdir(REPO)
    runpy.run_path(str(REPO / "setup.py"))
    top_level = {name.split(".")[0] for name in setup["packages"]}
    copies = [source for op, args in steps if op == "COPY"
              for source in args.split()[:-1]]
    assert top_level == {"pipeline", "components", "trainer_module",
                         "movielens_features", "movielens_data",
                         "recommender", "runtime", "reporting"}
    assert {c.rstrip("/") for c in copies} >= top_level | {
        "requirements.lock", "setup.py"}
    runs = [args for op, args in steps if op == "RUN"]
    assert any("pip install --no-cache-dir --no-deps ${SRC}" in r
               for r in runs)
    assert any(f"ln -s \"$schema\" {cluster_options.IMAGE_SCHEMA_PATH}" in r
               for r in runs)
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv/", "data/", "outputs/", ".git/",
            "**/__pycache__/"} <= set(ignored)


def dockerfile_text() -> str:
    """The Dockerfile with its line continuations joined, as Docker
    reads it."""
    return (REPO / "Dockerfile").read_text().replace("\\\n", "")


def dockerfile_scripts() -> list:
    """The Python one-liners the Dockerfile runs while building."""
    return re.findall(r"python -c '([^']+)'", dockerfile_text())


def test_dockerfile_checks_pass_on_the_stack_the_image_mirrors(tmp_path):
    """Its build-time scripts, run here: nothing missing, no pin drift, the
    schema link target exists (its import check runs with the pods' one)."""
    scripts = dockerfile_scripts()
    assert len(scripts) == 4
    missing, drift, schema = (
        subprocess.run([sys.executable, "-c", s], cwd=tmp_path, env=pod_env(),
                       capture_output=True, text=True, timeout=120)
        for s in scripts[:3])
    assert (missing.returncode, missing.stdout) == (0, "\n")
    assert (drift.returncode, drift.stdout) == (
        0, "base image matches the setup.py pins\n")
    assert schema.stdout.strip().endswith("pipeline/schema/schema.pbtxt")
    assert pathlib.Path(schema.stdout.strip()).is_file()
