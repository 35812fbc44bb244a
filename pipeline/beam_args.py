"""Beam pipeline arguments for every place the pipeline's Beam work can run.

Each function returns a ready argument list for create_pipeline's
`beam_pipeline_args`. TFX hands the same list to every Beam-powered component
(ExampleGen, StatisticsGen, Transform, Evaluator, TopKEvaluator, ...), and on
Kubeflow the list is compiled into the spec, so it must not name a path of the
machine that compiles the pipeline.

Whatever the runner, the Beam workers import this package (Transform's
preprocessing_fn, the TFMA extractors, the TopKEvaluator's DoFns): on a
distributed runner they must run the pipeline image, which has it installed,
or get it staged (portable(extra_packages=[the project's wheel])).

TFX builds an sdist of itself (tfx_ephemeral) and stages it for every Beam
component whose arguments are non-empty and name none of extra_packages,
setup_file, requirements_file or sdk_container_image: 1-5 s per component,
for workers that have TFX already. local() passes no argument or names an
image the DirectRunner ignores; the portable presets stage the project's
wheel or name the image; dataflow() and direct(image=...) (each Kubeflow
pod) name the image.
"""
from typing import List, Optional, Sequence

# Names the runners' --beam-preset flag accepts.
PRESETS = ("local", "direct", "dataflow", "flink", "spark", "portable")
# Beam's portable runner protocol (a job service and SDK workers): the same
# arguments for a Flink or Spark job server and for Python's own.
PORTABLE_PRESETS = ("flink", "spark", "portable")
ENVIRONMENT_TYPES = ("EXTERNAL", "DOCKER")
# A Beam worker pool sidecar (`/opt/apache/beam/boot --worker_pool`) listens
# here, next to the Flink task manager or Spark worker.
DEFAULT_WORKER_POOL = "localhost:50000"
# The client reads the job's state as a gRPC stream whose deadline is
# --job_server_timeout (Beam's default 60 s): any longer component lost it
# with DEADLINE_EXCEEDED "Stream removed" while the job went on. It also
# bounds the wait for the job service to answer, so not unlimited: a day.
JOB_SERVER_TIMEOUT = 24 * 60 * 60
# The DirectRunner stages nothing (its workers are this interpreter's
# subprocesses; FnApiRunner builds their environment without artifacts), so
# naming an image changes nothing but TFX's check: no tfx_ephemeral sdist.
_DIRECT_RUNNER_IMAGE = "--sdk_container_image=unused-by-the-direct-runner"


def local(workers: int = 1) -> List[str]:
    """DirectRunner on this machine: in-memory in the calling process for one
    worker (quick start, readable tracebacks), else N worker processes.

    One worker takes no argument at all: Beam's defaults are the
    DirectRunner, in memory, one worker, and an empty list makes TFX skip its
    tfx_ephemeral sdist.
    """
    if workers <= 1:
        return []
    return direct(workers) + [_DIRECT_RUNNER_IMAGE]


def direct(workers: int = 0, image: Optional[str] = None) -> List[str]:
    """DirectRunner inside each component's pod, one worker process per core.

    The default on Kubeflow: no Beam cluster needed, and each component scales
    with its pod's CPU request. workers=0 means one process per CPU the pod
    *sees*, which on Kubernetes is the node's core count, not the pod's limit:
    pass the pod's CPU count on shared nodes. `image`, the one the pod runs,
    is named as the SDK image: the DirectRunner's workers ignore it, and
    TFX then stages no sdist of itself.
    """
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    args = ["--runner=DirectRunner",
            "--direct_running_mode=multi_processing",
            f"--direct_num_workers={workers}"]
    return args + ([f"--sdk_container_image={image}"] if image else [])


def dataflow(project: str, region: str, temp_location: str, image: str,
             max_workers: Optional[int] = None,
             experiments: Sequence[str] = ()) -> List[str]:
    """Google Cloud Dataflow, workers running the pipeline image.

    `--sdk_container_image` makes the workers run the image: it has this
    package, the Beam SDK and Beam's /opt/apache/beam/boot entrypoint (from
    the TFX base image), so nothing is staged. Custom containers need Dataflow
    Runner v2, which Beam 2.53 turns on by itself, so no experiment is needed;
    `experiments` is for the rare job that wants one.
    """
    _require(project=project, region=region, temp_location=temp_location,
             image=image)
    if not temp_location.startswith("gs://"):
        raise ValueError(f"Dataflow's temp_location must be a gs:// path, "
                         f"got {temp_location!r}")
    args = ["--runner=DataflowRunner", f"--project={project}",
            f"--region={region}", f"--temp_location={temp_location}",
            f"--sdk_container_image={image}"]
    if max_workers:
        args.append(f"--max_num_workers={max_workers}")
    args.extend(f"--experiments={name}" for name in experiments)
    return args


def portable(job_endpoint: str, environment_type: str = "EXTERNAL",
             environment_config: Optional[str] = None,
             image: Optional[str] = None,
             extra_packages: Sequence[str] = (),
             job_server_timeout: int = JOB_SERVER_TIMEOUT) -> List[str]:
    """Beam's portable runner protocol, which Flink, Spark and Dataflow
    Runner v2 use: a job service on job_endpoint (host:port) runs the job
    on SDK workers. (Dataflow takes its jobs through its own API: the
    dataflow preset; its Runner v2 workers boot the same way.)

    Workers: EXTERNAL (default) asks a worker pool at environment_config
    (default localhost:50000) for them; DOCKER makes the runner start
    `image` itself. extra_packages (e.g. the project's wheel) are staged to
    the workers, which need a boot program that installs them (Beam's
    container boot; with Python's worker pool, runtime/beam_worker_boot.py).
    Without them the workers must run `image`, which has this package and
    TFX: naming it as the SDK image stops TFX staging an sdist of itself.
    """
    _require(job_endpoint=job_endpoint)
    environment_type = environment_type.upper()
    if environment_type not in ENVIRONMENT_TYPES:
        raise ValueError(f"environment_type must be one of "
                         f"{ENVIRONMENT_TYPES}, got {environment_type!r}")
    if job_server_timeout < 1:
        raise ValueError(f"job_server_timeout must be >= 1 s, got "
                         f"{job_server_timeout}")
    if environment_config is None:
        environment_config = (image if environment_type == "DOCKER"
                              else DEFAULT_WORKER_POOL)
    if not environment_config:
        raise ValueError("DOCKER workers need the pipeline image")
    args = ["--runner=PortableRunner", f"--job_endpoint={job_endpoint}",
            f"--environment_type={environment_type}",
            f"--environment_config={environment_config}",
            f"--job_server_timeout={job_server_timeout}"]
    args.extend(f"--extra_package={path}" for path in extra_packages)
    if image and not extra_packages:
        args.append(f"--sdk_container_image={image}")
    return args


# The flink and spark presets: portable() against a Flink job server
# (beam_flink<version>_job_server, e.g. a service next to the Flink cluster,
# on host:8099; the pods then need no Java) or a Spark job server
# (beam_spark3_job_server). EXTERNAL workers: a worker pool sidecar of each
# task manager or worker running the pipeline image; DOCKER: they start the
# image (Docker there). Either way the workers must reach the pipeline root
# (e.g. gs://).
flink = portable
spark = portable


def runs_on_this_machine(args: Sequence[str]) -> bool:
    """Whether args run Beam's DirectRunner (Beam's default when no runner
    is named): the component's own machine does the work, so a component
    that can skip Beam (the in-process CsvExampleGen) may."""
    args = [arg for arg in args if isinstance(arg, str)]  # not placeholders
    runners = [arg.split("=", 1)[1] for arg in args
               if arg.startswith("--runner=")]
    runners += [after for before, after in zip(args, args[1:])
                if before == "--runner"]
    return all(runner.lower() in ("directrunner", "direct")
               for runner in runners)


def _require(**values: Optional[str]) -> None:
    missing = sorted(name for name, value in values.items() if not value)
    if missing:
        raise ValueError(f"missing Beam setting(s): {', '.join(missing)}")
