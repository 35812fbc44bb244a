"""Beam pipeline arguments for every place the pipeline's Beam work can run.

Each function returns a ready argument list for create_pipeline's
`beam_pipeline_args`. TFX hands the same list to every Beam-powered component
(ExampleGen, StatisticsGen, Transform, Evaluator, TopKEvaluator, ...), and on
Kubeflow the list is compiled into the spec, so it must not name a path of the
machine that compiles the pipeline.

Whatever the runner, the Beam workers import this package (Transform's
preprocessing_fn, the TFMA extractors, the TopKEvaluator's DoFns): on a
distributed runner they must run the pipeline image, which has it installed.
"""
from typing import List, Optional, Sequence

# Names the runners' --beam-preset flag accepts.
PRESETS = ("local", "direct", "dataflow", "flink", "spark")
ENVIRONMENT_TYPES = ("EXTERNAL", "DOCKER")
# A Beam worker pool sidecar (`/opt/apache/beam/boot --worker_pool`) listens
# here, next to the Flink task manager or Spark worker.
DEFAULT_WORKER_POOL = "localhost:50000"


def local(workers: int = 1) -> List[str]:
    """DirectRunner on this machine: in-memory in the calling process for one
    worker (quick start, readable tracebacks), else N worker processes."""
    if workers <= 1:
        return ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    return direct(workers)


def direct(workers: int = 0) -> List[str]:
    """DirectRunner inside each component's pod, one worker process per core.

    The default on Kubeflow: no Beam cluster needed, and each component scales
    with its pod's CPU request. workers=0 means one process per CPU the pod
    *sees*, which on Kubernetes is the node's core count, not the pod's limit:
    pass the pod's CPU count on shared nodes.
    """
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    return ["--runner=DirectRunner",
            "--direct_running_mode=multi_processing",
            f"--direct_num_workers={workers}"]


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


def flink(job_endpoint: str, environment_type: str = "EXTERNAL",
          environment_config: Optional[str] = None,
          image: Optional[str] = None) -> List[str]:
    """Apache Flink through Beam's portable runner and a Flink job server.

    The job server (beam_flink<version>_job_server, e.g. as a service next to
    the Flink cluster) listens on job_endpoint (host:8099). The pods then need
    no Java. Workers: EXTERNAL (default) talks to a worker pool sidecar of
    each task manager that runs the pipeline image; DOCKER makes the task
    managers start the pipeline image themselves (needs Docker there).
    Either way the workers must reach the pipeline root (e.g. gs://).
    """
    return _portable(job_endpoint, environment_type, environment_config,
                     image)


def spark(job_endpoint: str, environment_type: str = "EXTERNAL",
          environment_config: Optional[str] = None,
          image: Optional[str] = None) -> List[str]:
    """Apache Spark through Beam's portable runner and a Spark job server
    (beam_spark3_job_server) on job_endpoint; workers as for flink()."""
    return _portable(job_endpoint, environment_type, environment_config,
                     image)


def _portable(job_endpoint: str, environment_type: str,
              environment_config: Optional[str],
              image: Optional[str]) -> List[str]:
    """PortableRunner arguments shared by Flink and Spark."""
    _require(job_endpoint=job_endpoint)
    environment_type = environment_type.upper()
    if environment_type not in ENVIRONMENT_TYPES:
        raise ValueError(f"environment_type must be one of "
                         f"{ENVIRONMENT_TYPES}, got {environment_type!r}")
    if environment_config is None:
        # DOCKER starts the pipeline image, so workers import this package.
        environment_config = (image if environment_type == "DOCKER"
                              else DEFAULT_WORKER_POOL)
    if not environment_config:
        raise ValueError("DOCKER workers need the pipeline image")
    return ["--runner=PortableRunner", f"--job_endpoint={job_endpoint}",
            f"--environment_type={environment_type}",
            f"--environment_config={environment_config}"]


def _require(**values: Optional[str]) -> None:
    missing = sorted(name for name, value in values.items() if not value)
    if missing:
        raise ValueError(f"missing Beam setting(s): {', '.join(missing)}")
