"""Compiles the pipeline for Kubeflow Pipelines v1: an Argo workflow package.

    python kubeflow_runner.py --image gcr.io/PROJECT/movielens-tfx:TAG \\
        --pipeline-root gs://BUCKET/tfx --data-root gs://BUCKET/data/ml-100k

writes movielens-wide-deep.tar.gz; upload it to the KFP UI or with kfp.Client.
Owns only its compiler: the flags are pipeline/cluster_options.py's (shared with
kubeflow_v2_runner.py), the pipeline is pipeline.pipeline.create_pipeline,
the same as local_runner.py's, and every pod runs --image, where this
package (user code, custom components, schema) is installed.
"""
import argparse
import os
import sys
from typing import List, Optional

from runtime.quiet import quiet_kfp_compiler

quiet_kfp_compiler()  # before TFX and TensorFlow load, in compile_v1

from pipeline import cluster_options  # noqa: E402 (imports no TensorFlow)


def compile_v1(args: argparse.Namespace) -> str:
    """Writes the Argo workflow package; returns its path."""
    from tfx.orchestration.kubeflow import kubeflow_dag_runner
    output_dir, filename = cluster_options.prepare_output(args, ".tar.gz")
    config = kubeflow_dag_runner.KubeflowDagRunnerConfig(
        kubeflow_metadata_config=(
            kubeflow_dag_runner.get_default_kubeflow_metadata_config()),
        tfx_image=args.image)
    kubeflow_dag_runner.KubeflowDagRunner(
        config=config, output_dir=output_dir,
        output_filename=filename).run(cluster_options.create_kubeflow_pipeline(args))
    return os.path.join(output_dir, filename)


def main(argv: Optional[List[str]] = None) -> int:
    args = cluster_options.parse_cluster_args(argv, __doc__, "<pipeline-name>.tar.gz")
    path = compile_v1(args)
    print(f"wrote {path} (KFP v1 workflow, image {args.image})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
