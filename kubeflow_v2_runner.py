"""Compiles the pipeline for Vertex AI Pipelines and KFP v2: PipelineJob JSON.

    python kubeflow_v2_runner.py \\
        --image REGION-docker.pkg.dev/PROJECT/REPO/movielens-tfx:TAG \\
        --pipeline-root gs://BUCKET/tfx --data-root gs://BUCKET/data/ml-100k

writes movielens-wide-deep.json; submit it with google-cloud-aiplatform's
PipelineJob. The same flags (pipeline/cluster_options.py) and the same
create_pipeline as kubeflow_runner.py; only the compiler differs. The
pipeline root becomes the job's default output directory. On this compiler
the baseline resolver cannot filter by producer: see docs/kubeflow-vertex.md.
"""
import argparse
import os
import sys
from typing import Any, Dict, List, Optional

from runtime.quiet import quiet_kfp_compiler

quiet_kfp_compiler()  # before TFX and TensorFlow load, in compile_v2

from pipeline import (cluster_options, configs,  # noqa: E402
                      options, vertex_training)  # (no TensorFlow)

_MACHINE = vertex_training.DEFAULT_MACHINE_TYPE
VERTEX_TRAINING_HELP = f"""
Vertex AI training (off by default): the Trainer submits a Vertex AI custom
job whose replicas (chief, workers, parameter servers) run --image:
  --vertex-training-project P --vertex-training-region R   turn it on
  --vertex-machine-type T  every replica's machine (default {_MACHINE})
  --vertex-worker-count N  workers beside the chief (default 0: chief alone)
  --vertex-ps-count M      parameter servers (default 1 with workers)
"""


def vertex_training_parser() -> argparse.ArgumentParser:
    """The Vertex AI training flags, parsed before the shared ones."""
    parser = options.Parser(add_help=False, allow_abbrev=False)
    parser.add_argument("--vertex-training-project", default=None)
    parser.add_argument("--vertex-training-region", default=None)
    parser.add_argument("--vertex-machine-type",
                        default=vertex_training.DEFAULT_MACHINE_TYPE)
    parser.add_argument("--vertex-worker-count", type=options.ranged(int, 0),
                        default=0)
    parser.add_argument("--vertex-ps-count", type=options.ranged(int, 0),
                        default=None)
    return parser


def vertex_spec_from_flags(parser: argparse.ArgumentParser,
                           flags: argparse.Namespace, image: str
                           ) -> Optional[Dict[str, Any]]:
    """The Trainer's Vertex spec; None when no --vertex-* flag is given."""
    if all(value == parser.get_default(name)
           for name, value in vars(flags).items()):
        return None
    ps_count = (flags.vertex_ps_count if flags.vertex_ps_count is not None
                else int(flags.vertex_worker_count > 0))
    try:
        return vertex_training.trainer_vertex_spec(
            flags.vertex_training_project, flags.vertex_training_region,
            image, flags.vertex_machine_type, flags.vertex_worker_count,
            ps_count)
    except ValueError as error:
        parser.error(f"Vertex AI training: {error}")


def compile_v2(args: argparse.Namespace,
               trainer_vertex_spec: Optional[Dict[str, Any]] = None) -> str:
    """Writes the PipelineJob JSON; returns its path."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner
    output_dir, filename = cluster_options.prepare_output(args, ".json")
    config = kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
        default_image=args.image)
    kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=config, output_dir=output_dir,
        output_filename=filename).run(
            create_v2_pipeline(args, trainer_vertex_spec))
    return os.path.join(output_dir, filename)


def create_v2_pipeline(args: argparse.Namespace,
                       trainer_vertex_spec: Optional[Dict[str, Any]]):
    """The Kubeflow pipeline; with trainer_vertex_spec, its Trainer runs
    on Vertex AI training."""
    # KFP v2 runs TFX's own resolver strategies only.
    return cluster_options.create_kubeflow_pipeline(
        args, baseline=configs.LATEST_BLESSED_BASELINE,
        trainer_vertex_spec=trainer_vertex_spec)


def main(argv: Optional[List[str]] = None) -> int:
    vertex_parser = vertex_training_parser()
    vertex_flags, rest = vertex_parser.parse_known_args(argv)
    args = cluster_options.parse_cluster_args(rest, __doc__ + VERTEX_TRAINING_HELP,
                                      "<pipeline-name>.json")
    vertex_spec = vertex_spec_from_flags(vertex_parser, vertex_flags,
                                         args.image)
    path = compile_v2(args, vertex_spec)
    print(f"wrote {path} (KFP v2 / Vertex AI PipelineJob, image {args.image}"
          + (", Trainer on Vertex AI training" if vertex_spec else "") + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
