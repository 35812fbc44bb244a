"""What Beam stages, locally and through Beam's portable runner protocol.

Locally: TFX builds no tfx_ephemeral sdist for the local presets (a
CsvExampleGen run, TFX's log captured; and each preset where a Beam executor
decides).

Portable: Python's Beam job service and an EXTERNAL worker pool run as
subprocesses on free localhost ports, each in its own folder, in a Python
environment without this project (the stack's site-packages on its path,
the project's editable install not: `import trainer_module` fails there).
The pool starts its workers with runtime/beam_worker_boot.py, copied out of
the repository. local_runner.py --beam-preset portable then runs the
pipeline up to Transform, staging the project's wheel; the workers import
the project only from that wheel, and Transform's results equal the
DirectRunner's (the session's tiny run, same data).
"""
import contextlib
import glob
import logging
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import venv
from typing import Dict, List, Tuple

import pytest

from conftest import REPO, PipelineRun, write_synthetic_data
from pipeline import beam_args

BOOT = REPO / "runtime" / "beam_worker_boot.py"
WHEEL = "movielens_tfx-0.1.0-py3-none-any.whl"
SERVICE_START_SECONDS = 90
# A worker that never connects leaves the job waiting: fail in time.
RUN_TIMEOUT = 600
TFX_SDIST_LOGS = ("Attempting to infer TFX Python dependency",
                  "Generating a temp setup file", "tfx_ephemeral")


# ------------------------------------------------------------ local presets

def run_csv_example_gen(data_dir: pathlib.Path, output: pathlib.Path,
                        beam_pipeline_args: List[str]) -> None:
    """TFX's CsvExampleGen executor, as the pipeline runs it, once."""
    from tfx.components.example_gen.csv_example_gen.executor import Executor
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts, standard_component_specs
    from tfx.utils import proto_utils

    examples = standard_artifacts.Examples()
    examples.uri = str(output)
    output_config = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=3),
            example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1)]))
    input_config = example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name="single_split", pattern="*")])
    specs = standard_component_specs
    executor = Executor(BaseBeamExecutor.Context(
        beam_pipeline_args=beam_pipeline_args, tmp_dir=str(output / "tmp")))
    executor.Do({}, {specs.EXAMPLES_KEY: [examples]}, {
        specs.INPUT_BASE_KEY: str(data_dir),
        specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
        specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(output_config),
        specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP})


def count_records(folder: pathlib.Path) -> int:
    """Records in the gzipped TFRecord files below folder."""
    import tensorflow as tf
    files = sorted(glob.glob(str(folder / "**" / "*.gz"), recursive=True))
    return sum(1 for _ in tf.data.TFRecordDataset(files,
                                                  compression_type="GZIP"))


def test_the_local_preset_runs_csv_example_gen_without_a_tfx_sdist(
        tmp_path, caplog, restore_logging):
    from absl import logging as absl_logging
    data_dir = tmp_path / "data"
    write_synthetic_data(data_dir)
    caplog.set_level(logging.INFO)
    # TFX logs through absl, whose verbosity any earlier SavedModel export
    # in this process leaves at WARNING (see runtime/progress.py).
    absl_logging.set_verbosity(absl_logging.INFO)
    run_csv_example_gen(data_dir, tmp_path / "examples", beam_args.local())
    assert count_records(tmp_path / "examples") == 1500
    assert "Generating examples." in caplog.text  # TFX's log is captured
    built = [line for line in caplog.text.splitlines()
             if any(mark in line for mark in TFX_SDIST_LOGS)]
    assert built == []


@pytest.mark.parametrize("preset,builds", [
    (beam_args.local(1), False), (beam_args.local(2), False),
    (beam_args.portable("localhost:8099", extra_packages=["/w.whl"]), False),
    (beam_args.flink("localhost:8099", image="gcr.io/p/i:1"), False),
    (beam_args.direct(2), True),  # Kubeflow pods: TFX still builds it
], ids=["local(1)", "local(2)", "portable+wheel", "flink+image", "direct"])
def test_tfx_builds_its_sdist_only_without_a_staging_argument(
        monkeypatch, tmp_path, preset, builds):
    """Where a Beam executor decides (its constructor), with the build
    replaced by a recorder: the local presets (2 processes too: the
    DirectRunner ignores the image they name) and the portable ones with
    a wheel or an image stage nothing of TFX."""
    from tfx.components.example_gen.csv_example_gen.executor import Executor
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.utils import dependency_utils
    built = []
    monkeypatch.setattr(sys, "argv", ["pytest"])  # TFX parses absl flags
    monkeypatch.setattr(dependency_utils, "build_ephemeral_package",
                        lambda: built.append(1) or "/t/tfx_ephemeral.tar.gz")
    Executor(BaseBeamExecutor.Context(beam_pipeline_args=list(preset),
                                      tmp_dir=str(tmp_path)))
    assert built == ([1] if builds else [])


# --------------------------------------------------- the portable runner

def make_projectless_python(folder: pathlib.Path) -> pathlib.Path:
    """A venv whose site-packages lists the stack's site-packages in a .pth
    line: a path line adds that folder but runs none of its .pth files, so
    the project's editable-install finder never loads. Its bin folder."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(folder)
    site = pathlib.Path(sysconfig.get_paths(vars={"base": str(folder)})
                        ["purelib"])
    (site / "stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return folder / "bin"


def projectless_env(bin_dir: pathlib.Path, tmp: pathlib.Path
                    ) -> Dict[str, str]:
    """A clean environment: that Python first on PATH (the boot program's
    `python3`), no PYTHONPATH, temp files in tmp."""
    return {"PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": os.environ.get("HOME", str(tmp)), "TMPDIR": str(tmp),
            "LANG": "C.UTF-8", "TF_CPP_MIN_LOG_LEVEL": "2"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def wait_until_listening(process: subprocess.Popen, log: pathlib.Path,
                         port: int) -> None:
    deadline = time.monotonic() + SERVICE_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}:\n"
                        f"{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(
                ("localhost", port), timeout=1):
            return
        time.sleep(0.5)
    pytest.fail(f"nothing listens on {port} after {SERVICE_START_SECONDS} s:"
                f"\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the service's process group (the pool's workers too),
    SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start(command: List[str], folder: pathlib.Path, env: Dict[str, str],
          stack: contextlib.ExitStack
          ) -> Tuple[subprocess.Popen, pathlib.Path]:
    """Starts command in folder, stopped when the stack closes; its log."""
    folder.mkdir(parents=True)
    log = folder / "log.txt"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=out,
                                   stderr=subprocess.STDOUT,
                                   start_new_session=True)
    stack.callback(stop, process)
    return process, log


@pytest.fixture(scope="module")
def worker_python(tmp_path_factory) -> pathlib.Path:
    return make_projectless_python(tmp_path_factory.mktemp("workers") / "env")


def test_the_workers_python_lacks_the_project(worker_python, tmp_path):
    found = subprocess.run(
        ["python3", "-c", "import importlib.util as u; print([u.find_spec(m)"
         " is not None for m in ('trainer_module', 'pipeline', 'apache_beam',"
         " 'tfx', 'tensorflow_transform')])"],
        cwd=tmp_path, env=projectless_env(worker_python, tmp_path),
        capture_output=True, text=True, timeout=60)
    assert found.stdout.split() == ["[False,", "False,", "True,", "True,",
                                    "True]"], found.stderr


@pytest.fixture(scope="module")
def portable_run(worker_python, tmp_path_factory) -> Dict[str, object]:
    """local_runner.py --beam-preset portable up to Transform, against a
    job service and a worker pool of the project-less Python; both are
    stopped afterwards."""
    base = tmp_path_factory.mktemp("portable")
    tmp = base / "tmp"
    tmp.mkdir()
    env = projectless_env(worker_python, tmp)
    boot = base / "pool" / "boot" / "beam_worker_boot.py"
    boot.parent.mkdir(parents=True)
    shutil.copy2(BOOT, boot)  # the pool sees no repository
    job_port, pool_port = free_port(), free_port()
    python = str(worker_python / "python3")
    run = PipelineRun(base / "data", base / "outputs", "tiny-portable")
    write_synthetic_data(run.data_dir)
    with contextlib.ExitStack() as stack:
        job_service = start(
            [python, "-m", "apache_beam.runners.portability."
             "local_job_service_main", "--port", str(job_port)],
            base / "jobs", env, stack)
        worker_pool = start(
            [python, "-m", "apache_beam.runners.worker.worker_pool_main",
             "--service_port", str(pool_port), "--container_executable",
             str(boot)], base / "pool" / "run", env, stack)
        wait_until_listening(*job_service, job_port)
        wait_until_listening(*worker_pool, pool_port)
        result = subprocess.run(
            [sys.executable, str(REPO / "local_runner.py"),
             "--data-dir", str(run.data_dir),
             "--output-root", str(run.output_root),
             "--pipeline-name", run.pipeline_name, "--stop-after", "Transform",
             "--beam-preset", "portable",
             "--job-endpoint", f"localhost:{job_port}",
             "--environment-config", f"localhost:{pool_port}"],
            cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        logs = {"job": job_service[1].read_text(),
                "pool": worker_pool[1].read_text()}
    return {"run": run, "result": result, "tmp": tmp, **logs}


def succeeded(portable_run: Dict[str, object]) -> None:
    result = portable_run["result"]
    assert result.returncode == 0, (
        f"{result.stdout}{result.stderr}\njob service:\n"
        f"{portable_run['job'][-2000:]}\nworker pool:\n"
        f"{portable_run['pool'][-4000:]}")


def test_transform_on_projectless_workers_equals_the_direct_runner(
        portable_run, tiny_pipeline_run):
    succeeded(portable_run)
    ported = transform_outputs(portable_run["run"])
    direct = transform_outputs(tiny_pipeline_run)
    assert sorted(ported["vocabularies"]) == ["item_id_vocab",
                                              "user_id_vocab"]
    assert ported["vocabularies"] == direct["vocabularies"]
    assert {split: len(rows) for split, rows in ported["examples"].items()
            } == {"Split-eval": 374, "Split-train": 1126}
    assert ported["examples"] == direct["examples"]


def test_workers_imported_the_project_from_the_staged_wheel(portable_run):
    succeeded(portable_run)
    pool = portable_run["pool"]
    # One worker per Beam job: CsvExampleGen, StatisticsGen, Transform.
    assert pool.count("Starting worker with command") == 3
    assert pool.count("beam_worker_boot starting") == 3
    assert pool.count(f"installed {WHEEL}") == 1  # then reused
    assert "ModuleNotFoundError" not in pool
    [site] = glob.glob(str(portable_run["tmp"] / "beam-worker-boot" / "*"
                           / "site"))
    assert os.path.isfile(os.path.join(site, "trainer_module",
                                       "preprocessing.py"))
    run_log = read_run_log(portable_run["run"])
    assert f"--job_server_timeout={beam_args.JOB_SERVER_TIMEOUT}" in run_log
    assert "--extra_package=" in run_log and WHEEL in run_log
    assert not any(mark in run_log for mark in TFX_SDIST_LOGS)


def transform_outputs(run: PipelineRun) -> Dict[str, dict]:
    """Transform's vocabulary files (bytes) and transformed examples per
    split (each serialized with sorted features, sorted)."""
    import tensorflow as tf
    root = run.output_root / "pipelines" / run.pipeline_name / "Transform"
    [assets] = glob.glob(str(root / "transform_graph" / "*" / "transform_fn"
                             / "assets"))
    vocabularies = {name: (pathlib.Path(assets) / name).read_bytes()
                    for name in os.listdir(assets)}
    examples = {}
    for split in glob.glob(str(root / "transformed_examples" / "*" / "*")):
        files = sorted(glob.glob(os.path.join(split, "*.gz")))
        examples[os.path.basename(split)] = sorted(
            tf.train.Example.FromString(record.numpy()).SerializeToString(
                deterministic=True)
            for record in tf.data.TFRecordDataset(files,
                                                  compression_type="GZIP"))
    return {"vocabularies": vocabularies, "examples": examples}


def read_run_log(run: PipelineRun) -> str:
    [log] = glob.glob(str(run.output_root / "logs" / "*.log"))
    return pathlib.Path(log).read_text()


# ------------------------------------------------- the boot program, alone

def test_the_harness_gets_what_sdk_worker_main_reads(tmp_path):
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.worker import sdk_worker_main
    from google.protobuf import struct_pb2
    from runtime import beam_worker_boot
    options = struct_pb2.Struct()
    options.update({"beam:option:job_name:v1": "j",
                    "beam:option:job_server_timeout:v1": "86400"})
    info = beam_provision_api_pb2.ProvisionInfo(
        pipeline_options=options, runner_capabilities=["a", "b"])
    (tmp_path / "site").mkdir()
    args = beam_worker_boot.parse_args(
        ["--id=worker_7", "--logging_endpoint=localhost:1",
         "--artifact_endpoint=localhost:2", "--provision_endpoint=localhost:2",
         "--control_endpoint=localhost:3"])
    env = beam_worker_boot.harness_environment(info, args, str(tmp_path))
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(tmp_path / "site")
    # The parser sdk_worker_main applies to PIPELINE_OPTIONS.
    load = sdk_worker_main._load_pipeline_options  # pylint: disable=W0212
    assert load(env["PIPELINE_OPTIONS"]) == {"job_name": "j",
                                             "job_server_timeout": "86400"}
    assert env["CONTROL_API_SERVICE_DESCRIPTOR"] == 'url: "localhost:3"\n'
    assert env["LOGGING_API_SERVICE_DESCRIPTOR"] == 'url: "localhost:1"\n'
    assert (env["WORKER_ID"], env["RUNNER_CAPABILITIES"],
            env["SEMI_PERSISTENT_DIRECTORY"]) == ("worker_7", "a b",
                                                  str(tmp_path))


def test_the_boot_program_places_only_staged_files(tmp_path):
    from apache_beam.portability import common_urns
    from apache_beam.portability.api import beam_runner_api_pb2
    from runtime import beam_worker_boot

    def artifact(name, role=common_urns.artifact_roles.STAGING_TO.urn):
        return beam_runner_api_pb2.ArtifactInformation(
            role_urn=role,
            role_payload=beam_runner_api_pb2.ArtifactStagingToRolePayload(
                staged_name=name).SerializeToString())
    assert beam_worker_boot.staged_name(artifact("p.whl")) == "p.whl"
    for bad in (artifact("../p.whl"), artifact(""), artifact("p", "x:y")):
        with pytest.raises(ValueError):
            beam_worker_boot.staged_name(bad)
    (tmp_path / "extra_packages.txt").write_text("b.whl\na.tar.gz\n")
    assert beam_worker_boot.extra_packages(str(tmp_path)) == ["b.whl",
                                                              "a.tar.gz"]


def test_the_wheel_is_keyed_by_the_project_sources(tmp_path):
    from runtime import project_wheel
    (tmp_path / "setup.py").write_text("import setuptools\n")
    (tmp_path / "pipeline" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pipeline" / "a.py").write_text("A = 1\n")
    (tmp_path / "notes").mkdir()
    first = project_wheel.source_digest(str(tmp_path))
    (tmp_path / "pipeline" / "__pycache__" / "a.pyc").write_bytes(b"x")
    (tmp_path / "notes" / "n.txt").write_text("not packaged")
    assert project_wheel.source_digest(str(tmp_path)) == first
    assert list(project_wheel.source_files(str(tmp_path))) == [
        "setup.py", os.path.join("pipeline", "a.py")]
    (tmp_path / "pipeline" / "a.py").write_text("A = 2\n")
    assert project_wheel.source_digest(str(tmp_path)) != first
