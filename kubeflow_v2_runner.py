"""Compiles the pipeline for Vertex AI Pipelines and KFP v2: PipelineJob JSON.

    python kubeflow_v2_runner.py \\
        --image REGION-docker.pkg.dev/PROJECT/REPO/movielens-tfx:TAG \\
        --pipeline-root gs://BUCKET/tfx --data-root gs://BUCKET/data/ml-100k

writes movielens-wide-deep.json; submit it with google-cloud-aiplatform's
PipelineJob. The same flags (pipeline/options.py) and the same
create_pipeline as kubeflow_runner.py; only the compiler differs. The
pipeline root becomes the job's default output directory. On this compiler
the baseline resolver cannot filter by producer: see docs/kubeflow-vertex.md.
"""
import argparse
import os
import sys
from typing import List, Optional

from pipeline import configs, options  # imports no TensorFlow


def compile_v2(args: argparse.Namespace) -> str:
    """Writes the PipelineJob JSON; returns its path."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner
    output_dir, filename = options.prepare_output(args, ".json")
    config = kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
        default_image=args.image)
    kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=config, output_dir=output_dir,
        output_filename=filename).run(
            # KFP v2 runs TFX's own resolver strategies only.
            options.create_kubeflow_pipeline(
                args, baseline=configs.LATEST_BLESSED_BASELINE))
    return os.path.join(output_dir, filename)


def main(argv: Optional[List[str]] = None) -> int:
    args = options.parse_cluster_args(argv, __doc__,
                                      "<pipeline-name>.json")
    path = compile_v2(args)
    print(f"wrote {path} (KFP v2 / Vertex AI PipelineJob, image {args.image})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
