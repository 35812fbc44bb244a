"""The Trainer on Vertex AI training pools, offline.

kubeflow_v2_runner.py compiles the Trainer as TFX's Google Cloud AI Platform
Trainer with worker pools. That compiled task's executor then runs here
with the cloud call replaced: the CustomJob it would submit gives each
pool's command (`python -m tfx.scripts.run_executor` with the Trainer's
serialized inputs, outputs and exec-properties), which runs as a local
cluster, one process per replica with Vertex's TF_CONFIG (chief, worker,
ps), on tiny Transform outputs of the ranking objective; the chief's export
then scores in a fresh process.
"""
import functools
import json
import math
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

from conftest import REPO, TINY_RANKING_FLAGS
from local_cluster import POOL_TASKS, failures, pod_env, run_cluster
from pipeline import configs, vertex_training

sys.path.insert(0, str(REPO))  # the runners are scripts at the repo root
import kubeflow_v2_runner  # noqa: E402

IMAGE = "europe-docker.pkg.dev/recsys-prod/ml/movielens-tfx:2024-06-01"
RUNNER_FLAGS = ["--image", IMAGE, "--pipeline-root", "gs://b/tfx",
                "--data-root", "gs://b/data/ml-100k"]
VERTEX_FLAGS = ["--vertex-training-project", "recsys-prod",
                "--vertex-training-region", "europe-west4",
                "--vertex-machine-type", "n1-highmem-8",
                "--vertex-worker-count", "1"]
AIP_EXECUTOR = ("tfx.extensions.google_cloud_ai_platform.trainer.executor."
                "GenericExecutor")
REPLICA_EXECUTOR = "tfx.components.trainer.executor.GenericExecutor"
# Global steps of the tiny cluster: enough for the worker to join the
# chief (it starts 5 s later, train_and_evaluate's delay for worker 0). On
# a quiet machine the chief ran 400 tiny steps alone before the worker came
# (a CI run, 2026-12-07), so 2,000: seconds of training either way.
TRAIN_STEPS = 2000
SCORED_ROWS = 7


def compile_spec(path: pathlib.Path, *flags: str) -> dict:
    assert kubeflow_v2_runner.main([*RUNNER_FLAGS, "--output", str(path),
                                    *TINY_RANKING_FLAGS, *flags]) == 0
    return json.loads(path.read_text())["pipelineSpec"]


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    """The v2 spec with and without Vertex AI training, the same model."""
    out = tmp_path_factory.mktemp("specs")
    flags = ["--train-steps", str(TRAIN_STEPS)]
    return {"vertex": compile_spec(out / "vertex.json", *flags,
                                   *VERTEX_FLAGS),
            "plain": compile_spec(out / "plain.json", *flags)}


def trainer_parameters(spec: dict) -> dict:
    """The Trainer task's exec-properties as the KFP v2 entrypoint hands
    them to its executor (constants, JSON strings for protos and dicts)."""
    parameters = spec["root"]["dag"]["tasks"][configs.TRAINER_ID]["inputs"][
        "parameters"]
    return {name: next(iter(value["runtimeValue"]["constantValue"].values()))
            for name, value in parameters.items()}


def executor_args(spec: dict, task: str) -> list:
    label = spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    container = spec["deploymentSpec"]["executors"][
        spec["components"][label]["executorLabel"]]["container"]
    return container["args"]


def test_v2_runner_compiles_the_trainer_for_vertex_training_pools(specs):
    args = executor_args(specs["vertex"], configs.TRAINER_ID)
    assert args[args.index("--executor_class_path") + 1] == AIP_EXECUTOR
    plain_args = executor_args(specs["plain"], configs.TRAINER_ID)
    assert plain_args[plain_args.index("--executor_class_path") + 1] == (
        REPLICA_EXECUTOR)
    config = json.loads(trainer_parameters(specs["vertex"])["custom_config"])
    assert config[vertex_training.ENABLE_VERTEX_KEY] is True
    assert config[vertex_training.VERTEX_REGION_KEY] == "europe-west4"
    job = config[vertex_training.TRAINING_ARGS_KEY]
    assert job["project"] == "recsys-prod"
    pools = job["job_spec"]["worker_pool_specs"]
    # Chief, 1 worker, 1 ps (the default with workers), all on the image.
    assert [pool["replica_count"] for pool in pools] == [1, 1, 1]
    assert {pool["container_spec"]["image_uri"] for pool in pools} == {IMAGE}
    assert {pool["machine_spec"]["machine_type"] for pool in pools} == {
        "n1-highmem-8"}
    # The model's custom_config is kept: the hyper-parameters and the code
    # fingerprint of the plain Trainer.
    plain = json.loads(trainer_parameters(specs["plain"])["custom_config"])
    assert {key: config[key] for key in plain} == plain
    assert plain["hparams"]["train_steps"] == TRAIN_STEPS


def test_vertex_training_changes_nothing_but_the_trainer(specs):
    vertex, plain = specs["vertex"], specs["plain"]
    assert vertex["root"]["dag"]["tasks"].keys() == plain["root"]["dag"][
        "tasks"].keys()
    for task, spec in plain["root"]["dag"]["tasks"].items():
        if task != configs.TRAINER_ID:
            assert vertex["root"]["dag"]["tasks"][task] == spec, task
    trainer = {name: value for name, value in
               trainer_parameters(vertex).items() if name != "custom_config"}
    assert trainer == {name: value for name, value in
                       trainer_parameters(plain).items()
                       if name != "custom_config"}
    assert (vertex["root"]["dag"]["tasks"][configs.TRAINER_ID]["inputs"][
        "artifacts"] == plain["root"]["dag"]["tasks"][configs.TRAINER_ID][
        "inputs"]["artifacts"])


def test_vertex_training_flags_and_their_refusals(capsys):
    spec = vertex_training.trainer_vertex_spec("p", "r", IMAGE,
                                               worker_count=3, ps_count=2)
    pools = spec[vertex_training.TRAINING_ARGS_KEY]["job_spec"][
        "worker_pool_specs"]
    assert [pool["replica_count"] for pool in pools] == [1, 3, 2]
    alone = vertex_training.trainer_vertex_spec("p", "r", IMAGE)
    assert [pool["replica_count"] for pool in alone[
        vertex_training.TRAINING_ARGS_KEY]["job_spec"][
        "worker_pool_specs"]] == [1]
    bad = {"needs a project and a region": ["--vertex-worker-count", "2"],
           "needs a project": ["--vertex-machine-type", "n1-standard-8"],
           "workers and parameter servers go together": [
               *VERTEX_FLAGS[:4], "--vertex-ps-count", "2"],
           "--vertex-worker-count: must be an integer >= 0": [
               "--vertex-worker-count", "-1"]}
    for message, flags in bad.items():
        with pytest.raises(SystemExit) as exit_info:
            kubeflow_v2_runner.main([*RUNNER_FLAGS, *flags])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err, message


def test_tfx_reads_the_custom_config_keys_the_spec_writes():
    from tfx.extensions.google_cloud_ai_platform import constants
    from tfx.extensions.google_cloud_ai_platform.trainer import executor
    assert (vertex_training.TRAINING_ARGS_KEY, vertex_training.
            ENABLE_VERTEX_KEY, vertex_training.VERTEX_REGION_KEY) == (
        executor.TRAINING_ARGS_KEY, constants.ENABLE_VERTEX_KEY,
        constants.VERTEX_REGION_KEY)


# ------------------------------------------------ the replicas, run here

def tiny_ranking_rows():
    """Synthetic ratings as tf.Transform instances, 3 in 4 for train."""
    from movielens_data.synthetic import generate_ratings
    import movielens_features as features
    frame = generate_ratings(num_users=40, num_items=60, num_ratings=900,
                             seed=7)
    splits = {configs.TRAIN_SPLIT: [], configs.EVAL_SPLIT: []}
    for position, row in enumerate(frame.itertuples(index=False)):
        row = row._asdict()
        genres = row[features.GENRES_KEY]
        split = configs.EVAL_SPLIT if position % 4 == 3 else (
            configs.TRAIN_SPLIT)
        splits[split].append({
            features.USER_KEY: [int(row[features.USER_KEY])],
            features.ITEM_KEY: [int(row[features.ITEM_KEY])],
            features.LABEL_KEY: [float(row[features.LABEL_KEY])],
            features.TIMESTAMP_KEY: [int(row[features.TIMESTAMP_KEY])],
            features.GENRES_KEY: [genres] if genres else []})
    return splits


def write_transform_outputs(root: pathlib.Path) -> dict:
    """Transform's two outputs for the ranking objective, as its executor
    lays them out: the transform graph and Split-<name>/ gzipped
    tf.Examples."""
    import tensorflow as tf
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tensorflow_transform.tf_metadata import dataset_metadata
    import movielens_features as features
    from trainer_module import preprocessing
    schema = text_format.Parse(pathlib.Path(configs.SCHEMA_PATH).read_text(),
                               schema_pb2.Schema())
    metadata = dataset_metadata.DatasetMetadata(schema)
    preprocessing_fn = functools.partial(
        preprocessing.preprocessing_fn,
        custom_config={preprocessing.OBJECTIVE_KEY:
                       features.RANKING_OBJECTIVE})
    splits = tiny_ranking_rows()
    graph_dir = root / "transform_graph"
    with tft_beam.Context(temp_dir=str(root / "tft_tmp")):
        (train, transformed_metadata), transform_fn = (
            (splits[configs.TRAIN_SPLIT], metadata)
            | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
        evaluation, _ = (((splits[configs.EVAL_SPLIT], metadata),
                          transform_fn) | tft_beam.TransformDataset())
        _ = transform_fn | tft_beam.WriteTransformFn(str(graph_dir))
    coder = tft.coders.ExampleProtoCoder(transformed_metadata.schema)
    examples_dir = root / "transformed_examples"
    for split, rows in ((configs.TRAIN_SPLIT, train),
                        (configs.EVAL_SPLIT, evaluation)):
        folder = examples_dir / f"Split-{split}"
        folder.mkdir(parents=True)
        with tf.io.TFRecordWriter(
                str(folder / "transformed_examples-00000-of-00001.gz"),
                options="GZIP") as writer:
            for row in rows:
                writer.write(coder.encode(row))
    schema_dir = root / "schema"
    schema_dir.mkdir()
    shutil.copy(configs.SCHEMA_PATH, schema_dir / "schema.pbtxt")
    return {"examples": examples_dir, "transform_graph": graph_dir,
            "schema": schema_dir}


def trainer_artifacts(transform_outputs: dict, out: pathlib.Path):
    """(input_dict, output_dict) of the Trainer, as the launcher builds
    them."""
    from tfx.types import artifact_utils, standard_artifacts
    examples = standard_artifacts.Examples()
    examples.uri = str(transform_outputs["examples"])
    examples.split_names = artifact_utils.encode_split_names(
        [configs.TRAIN_SPLIT, configs.EVAL_SPLIT])
    graph = standard_artifacts.TransformGraph()
    graph.uri = str(transform_outputs["transform_graph"])
    schema = standard_artifacts.Schema()
    schema.uri = str(transform_outputs["schema"])
    model, model_run = (standard_artifacts.Model(),
                        standard_artifacts.ModelRun())
    model.uri, model_run.uri = str(out / "model"), str(out / "model_run")
    return ({"examples": [examples], "transform_graph": [graph],
             "schema": [schema]}, {"model": [model], "model_run": [model_run]})


def vertex_custom_job(spec: dict, input_dict: dict, output_dict: dict
                      ) -> dict:
    """The CustomJob the compiled Trainer task's executor submits, caught
    where TFX would call Vertex AI."""
    from tfx.extensions.google_cloud_ai_platform import runner
    from tfx.extensions.google_cloud_ai_platform import training_clients
    from tfx.utils import import_utils
    args = executor_args(spec, configs.TRAINER_ID)
    executor_class = import_utils.import_class_by_path(
        args[args.index("--executor_class_path") + 1])
    submitted = {}
    with pytest.MonkeyPatch.context() as patch:
        # No cloud client, no submission: the job as it would be sent.
        patch.setattr(training_clients.VertexJobClient, "create_client",
                      lambda self: None)
        patch.setattr(runner, "_launch_cloud_training",
                      lambda **job: submitted.update(job))
        executor_class().Do(input_dict, output_dict,
                            trainer_parameters(spec))
    assert submitted["project"] == "recsys-prod"
    assert submitted["enable_vertex"] and submitted["vertex_region"] == (
        "europe-west4")
    return submitted["training_job"]


def pool_commands(job: dict) -> dict:
    """{task type: the pool's container command, run by this Python}."""
    commands = {}
    for task, pool in zip(POOL_TASKS, job["job_spec"]["worker_pool_specs"]):
        command = pool["container_spec"]["command"]
        assert command[0] == "python"
        commands[task] = [sys.executable, *command[1:]]
    return commands


@pytest.fixture(scope="module")
def cluster_run(specs, tmp_path_factory):
    """The Trainer's Vertex job run as a local cluster, one process per
    replica; what it left."""
    from tfx.utils import path_utils
    root = tmp_path_factory.mktemp("cluster")
    input_dict, output_dict = trainer_artifacts(
        write_transform_outputs(root / "transform"), root / "trainer")
    job = vertex_custom_job(specs["vertex"], input_dict, output_dict)
    pools = job["job_spec"]["worker_pool_specs"]
    counts = {task: pool["replica_count"]
              for task, pool in zip(POOL_TASKS, pools)}
    started = time.time()
    runs = run_cluster(pool_commands(job), counts, root / "replicas",
                       pod_env(), timeout=400)
    return {"runs": runs, "counts": counts, "job": job,
            "seconds": time.time() - started,
            "hparams": json.loads(trainer_parameters(specs["vertex"])[
                "custom_config"])["hparams"],
            "model_run": pathlib.Path(output_dict["model_run"][0].uri),
            "model": pathlib.Path(output_dict["model"][0].uri),
            "serving": pathlib.Path(path_utils.serving_model_dir(
                output_dict["model"][0].uri))}


def test_each_pool_runs_the_trainer_executor_on_the_image(cluster_run):
    for pool in cluster_run["job"]["job_spec"]["worker_pool_specs"]:
        command = pool["container_spec"]["command"]
        assert command[:3] == ["python", "-m", "tfx.scripts.run_executor"]
        assert command[command.index("--executor_class_path") + 1] == (
            REPLICA_EXECUTOR)
        assert pool["container_spec"]["image_uri"] == IMAGE
    assert cluster_run["counts"] == {"chief": 1, "worker": 1, "ps": 1}


def test_chief_worker_and_ps_all_exit_0(cluster_run):
    runs = cluster_run["runs"]
    assert set(runs) == {"chief-0", "worker-0", "ps-0"}
    assert {name: run.returncode for name, run in runs.items()} == {
        name: 0 for name in runs}, failures(runs)
    print("replica seconds:", {name: round(run.seconds, 1)
                               for name, run in runs.items()},
          f"cluster {cluster_run['seconds']:.1f} s")


def replica_stats(cluster_run, name: str) -> dict:
    from trainer_module import distributed
    return json.loads((cluster_run["model_run"] / distributed.REPLICAS_DIR
                       / name / distributed.DONE_FILE).read_text())


def test_worker_trains_its_own_batches_beside_the_chief(cluster_run):
    from trainer_module import distributed
    chief = replica_stats(cluster_run, "chief-0")
    worker = replica_stats(cluster_run, "worker-0")
    assert worker["local_steps"] > 0 and chief["local_steps"] > 0
    # The global steps were shared: neither ran them all alone.
    assert chief["local_steps"] < TRAIN_STEPS
    assert chief["local_steps"] + worker["local_steps"] >= TRAIN_STEPS
    seed = cluster_run["hparams"]["random_seed"]
    assert chief["seed"] == seed
    assert worker["seed"] == seed + distributed.REPLICA_SEED_STRIDE
    print("local steps:", {"chief": chief["local_steps"],
                           "worker": worker["local_steps"]})


def test_only_the_chief_exports_and_writes_training_stats(cluster_run):
    from trainer_module import export
    serving = cluster_run["serving"]
    assert (serving / "saved_model.pb").is_file()
    # The Model artifact holds the chief's export alone.
    assert [path.name for path in cluster_run["model"].iterdir()] == [
        serving.name]
    stats = json.loads((cluster_run["model_run"]
                        / export.TRAINING_STATS_FILE).read_text())
    assert stats["steps"] == TRAIN_STEPS
    runs = cluster_run["runs"]
    for name in ("worker-0", "ps-0"):
        assert "exports no model (the chief does)" in runs[name].tail(
            20_000), name
    assert "Exported the serving model" in runs["chief-0"].tail(20_000)


_SCORE = """
import json, sys
import numpy as np
import tensorflow as tf
users, items, genres = json.loads(sys.stdin.read())
model = tf.saved_model.load(sys.argv[1])
examples = [tf.train.Example(features=tf.train.Features(feature={
    "user_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[u])),
    "item_id": tf.train.Feature(int64_list=tf.train.Int64List(value=[i])),
    "genres": tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[g.encode()])),
})).SerializeToString() for u, i, g in zip(users, items, genres)]
served = model.signatures["serving_default"](
    examples=tf.constant(examples))
raw = model.signatures["serving_raw"](
    user_id=tf.constant(users, tf.int64), item_id=tf.constant(items, tf.int64),
    genres=tf.constant(genres))
print(json.dumps({name: out.numpy().tolist() for name, out in [
    ("default", served["predictions"]), ("raw", raw["predictions"]),
    ("scores", raw["scores"])]}))
"""


def test_chief_export_scores_in_a_fresh_process(cluster_run):
    users = [1, 2, 3, 40, 99999, 5, 7][:SCORED_ROWS]
    items = [1, 2, 3, 60, 5, 99999, 8][:SCORED_ROWS]
    genres = ["Drama", "", "Comedy|Drama", "Action", "", "War", "Horror"]
    done = subprocess.run(
        [sys.executable, "-c", _SCORE, str(cluster_run["serving"])],
        input=json.dumps([users, items, genres]), capture_output=True,
        text=True, env=pod_env(), timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # One [1] row per example from each output.
    assert {name: [len(row) for row in rows] for name, rows in out.items()
            } == {name: [1] * SCORED_ROWS for name in out}
    flat = {name: [row[0] for row in rows] for name, rows in out.items()}
    assert all(math.isfinite(v) for values in flat.values() for v in values)
    # Ranking: probabilities of a positive, the same from both signatures.
    assert all(0.0 < p < 1.0 for p in flat["default"])
    assert flat["default"] == pytest.approx(flat["raw"], abs=1e-6)
    assert len(set(flat["scores"])) > 1  # the pairs score differently


# ------------------------------------------- run_fn's view of TF_CONFIG

def tf_config_env(cluster, task=None, index=0) -> dict:
    config = {"cluster": cluster}
    if task:
        config["task"] = {"type": task, "index": index}
    return {"TF_CONFIG": json.dumps(config)}


CLUSTER = {"chief": ["c:1"], "worker": ["w:1", "w:2"], "ps": ["p:1"]}


def test_replica_roles_from_tf_config():
    from trainer_module import distributed
    # Alone: no TF_CONFIG, or a cluster of one task (a single Vertex
    # replica) trains exactly as locally.
    assert distributed.current_replica({}) is None
    assert distributed.current_replica(
        tf_config_env({"chief": ["c:1"]}, "chief")) is None
    roles = {task_index: distributed.current_replica(
        tf_config_env(CLUSTER, *task_index)) for task_index in
        [("chief", 0), ("worker", 0), ("worker", 1), ("ps", 0),
         ("evaluator", 0)]}
    assert [r.is_chief for r in roles.values()] == [True, False, False,
                                                    False, False]
    assert [r.trains for r in roles.values()] == [True, True, True, False,
                                                  False]
    assert [distributed.replica_seed(7, r) for r in roles.values()] == [
        7, 7 + distributed.REPLICA_SEED_STRIDE,
        7 + 2 * distributed.REPLICA_SEED_STRIDE, 7, 7]
    assert distributed.replica_seed(7, None) == 7
    assert distributed.trainer_names(CLUSTER) == ["chief-0", "worker-0",
                                                  "worker-1"]
    with pytest.raises(ValueError, match="no ps"):
        distributed.current_replica(tf_config_env(
            {"chief": ["c:1"], "worker": ["w:1"]}, "worker"))
    with pytest.raises(ValueError, match="task type 'driver'"):
        distributed.current_replica(tf_config_env(CLUSTER, "driver"))


def test_ps_waits_for_the_chief_and_every_worker(tmp_path):
    import threading
    from trainer_module import distributed
    waiter = threading.Thread(target=distributed.wait_for_trainers,
                              args=(str(tmp_path), CLUSTER, 0.05))
    waiter.start()
    for name in ("worker-1", "chief-0"):
        task, index = name.split("-")
        distributed.mark_done(str(tmp_path), distributed.Replica(
            task, int(index), CLUSTER), {})
        waiter.join(0.3)
        assert waiter.is_alive(), f"returned before worker-0, after {name}"
    distributed.mark_done(str(tmp_path), distributed.Replica(
        "worker", 0, CLUSTER), {"local_steps": 3})
    waiter.join(5)
    assert not waiter.is_alive()
    assert json.loads((tmp_path / "replicas" / "worker-0" / "done.json")
                      .read_text()) == {"task": "worker", "index": 0,
                                        "local_steps": 3}
