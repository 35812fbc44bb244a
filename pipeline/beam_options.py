"""The Beam flags of Beam's portable runner (presets portable, flink,
spark), shared by local_runner.py and the Kubeflow runners, and the
arguments they make (pipeline/beam_args.py)."""
import argparse
from typing import List, Optional

from pipeline import beam_args
from pipeline.options import ranged

_POSITIVE_INT = ranged(int, 1)


def add_portable_flags(group: "argparse._ArgumentGroup") -> None:
    """The flags of Beam's portable runner (presets portable, flink, spark),
    for the cluster runners and local_runner.py alike."""
    group.add_argument("--job-endpoint",
                       help="portable/flink/spark: the Beam job service, "
                            "host:port")
    group.add_argument("--environment-type", default="EXTERNAL",
                       choices=beam_args.ENVIRONMENT_TYPES,
                       help="portable/flink/spark: how workers run the SDK "
                            "harness (EXTERNAL: ask a worker pool)")
    group.add_argument("--environment-config", default=None,
                       help="portable/flink/spark: worker pool address "
                            "(EXTERNAL; default "
                            f"{beam_args.DEFAULT_WORKER_POOL}) or image "
                            "(DOCKER; default --image)")
    group.add_argument("--extra-package", action="append", default=[],
                       metavar="PATH",
                       help="portable/flink/spark: a package (.whl, .tar.gz) "
                            "to stage to the workers, repeatable; they "
                            "install it with runtime/beam_worker_boot.py or "
                            "Beam's container boot")
    group.add_argument("--job-server-timeout", type=_POSITIVE_INT,
                       default=beam_args.JOB_SERVER_TIMEOUT, metavar="SECONDS",
                       help="portable/flink/spark: the longest a Beam job "
                            "may run and the wait for the job service "
                            "(Beam's own 60 s cuts any longer job's state "
                            "stream)")


def portable_beam_args(args: argparse.Namespace, image: Optional[str] = None,
                       extra_packages: Optional[List[str]] = None
                       ) -> List[str]:
    """beam_args.portable from add_portable_flags' flags; extra_packages
    are staged before the --extra-package ones."""
    return beam_args.portable(
        args.job_endpoint, args.environment_type, args.environment_config,
        image, [*(extra_packages or []), *args.extra_package],
        args.job_server_timeout)
