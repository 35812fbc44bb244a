"""Compiles the pipeline for Kubeflow Pipelines v1: an Argo workflow package.

    python kubeflow_runner.py --image gcr.io/PROJECT/movielens-tfx:TAG \\
        --pipeline-root gs://BUCKET/tfx --data-root gs://BUCKET/data/ml-100k

writes movielens-wide-deep.tar.gz; upload it to the KFP UI or with kfp.Client.
Owns only paths and runner configuration: the pipeline is
pipeline.pipeline.create_pipeline, the same as local_runner.py's, and every
pod runs --image, where this package (user code, custom components, schema)
is installed. kubeflow_v2_runner.py shares this module's flags.
"""
import argparse
import os
import sys
from typing import TYPE_CHECKING, Dict, List, Optional

import local_runner  # its model and gate flags; imports no TensorFlow
from pipeline import beam_args

if TYPE_CHECKING:
    from tfx import v1 as tfx

# The curated schema inside the image: the Dockerfile links it there from the
# installed package, whose site-packages path depends on the base image.
IMAGE_SCHEMA_PATH = "/opt/movielens-tfx/schema.pbtxt"

# local_runner flags that make no sense in a cluster, and what replaces them.
_LOCAL_ONLY_FLAGS = {"--data-dir": "--data-root",
                     "--output-root": "--pipeline-root",
                     "--skip-data-check": None}

_BEAM_PRESETS_HELP = """\
Beam presets (pipeline/beam_args.py):
  direct    DirectRunner, multi-processing inside each pod (default)
  local     DirectRunner in-memory, one process (tiny data only)
  dataflow  Dataflow, workers run --image (--project --region --temp-location)
  flink     PortableRunner on a Flink job server (--job-endpoint)
  spark     PortableRunner on a Spark job server (--job-endpoint)
Flink and Spark workers: EXTERNAL (default) uses a Beam worker pool sidecar
running --image on each task manager / worker; DOCKER has them start --image.
"""


def build_parser(description: str,
                 default_output: str) -> argparse.ArgumentParser:
    """The cluster flags, then the flags every runner shares."""
    parser = argparse.ArgumentParser(
        description=description, epilog=_BEAM_PRESETS_HELP, allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", required=True,
                        help="the pipeline image (built from Dockerfile) "
                             "every component runs")
    parser.add_argument("--pipeline-root", required=True,
                        help="artifact root the pods share, e.g. "
                             "gs://BUCKET/tfx")
    parser.add_argument("--data-root", required=True,
                        help="folder of pipeline CSVs the pods read, e.g. "
                             "gs://BUCKET/data/ml-100k")
    parser.add_argument("--serving-model-dir", default=None,
                        help="where the Pusher writes versioned SavedModels "
                             "(default: <pipeline-root>/serving_model)")
    parser.add_argument("--schema-path", default=IMAGE_SCHEMA_PATH,
                        help="curated schema as the pods see it (default: "
                             "the copy installed in the image)")
    parser.add_argument("--output", default=None,
                        help=f"compiled spec file (default: {default_output} "
                             f"in the current folder)")
    beam = parser.add_argument_group("Beam")
    beam.add_argument("--beam-preset", choices=beam_args.PRESETS,
                      default="direct", help="where Beam runs (see below)")
    beam.add_argument("--beam-workers", type=int, default=0,
                      help="direct/local: worker processes per pod "
                           "(0: one per CPU); dataflow: most workers")
    beam.add_argument("--project", help="dataflow: GCP project")
    beam.add_argument("--region", help="dataflow: GCP region")
    beam.add_argument("--temp-location", help="dataflow: gs:// temp folder")
    beam.add_argument("--job-endpoint",
                      help="flink/spark: the Beam job server, host:port")
    beam.add_argument("--environment-type", default="EXTERNAL",
                      choices=beam_args.ENVIRONMENT_TYPES,
                      help="flink/spark: how workers run the SDK harness")
    beam.add_argument("--environment-config", default=None,
                      help="flink/spark: worker pool address (EXTERNAL) or "
                           "image (DOCKER; default --image)")
    beam.add_argument("--beam-arg", action="append", default=[],
                      metavar="ARG", help="extra raw Beam argument, "
                      "repeatable: --beam-arg=--max_num_workers=8")
    local_runner.add_pipeline_flags(parser)
    return parser


def parse_args(argv: Optional[List[str]], description: str,
               default_output: str) -> argparse.Namespace:
    """All flags, checked: pod-visible paths, a complete Beam preset."""
    parser = build_parser(description, default_output)
    args, rest = parser.parse_known_args(argv)
    _refuse_local_only_flags(parser, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    for name in ("pipeline_root", "data_root", "serving_model_dir",
                 "schema_path"):
        path = getattr(args, name)
        if path and not _is_pod_visible(path):
            parser.error(f"--{name.replace('_', '-')} must be a URL "
                         f"(gs://...) or an absolute path the pods mount, "
                         f"got {path!r}")
    try:
        args.beam_pipeline_args = beam_pipeline_args(args)
    except ValueError as error:
        parser.error(str(error))
    return args


def beam_pipeline_args(args: argparse.Namespace) -> List[str]:
    """The preset's arguments, then the raw --beam-arg ones."""
    preset = args.beam_preset
    if preset == "local":
        chosen = beam_args.local(max(args.beam_workers, 1))
    elif preset == "direct":
        chosen = beam_args.direct(args.beam_workers)
    elif preset == "dataflow":
        chosen = beam_args.dataflow(args.project, args.region,
                                    args.temp_location, args.image,
                                    max_workers=args.beam_workers or None)
    else:
        portable = beam_args.flink if preset == "flink" else beam_args.spark
        chosen = portable(args.job_endpoint, args.environment_type,
                          args.environment_config, args.image)
    return chosen + list(args.beam_arg)


def pipeline_paths(args: argparse.Namespace) -> Dict[str, str]:
    """Every path the pipeline needs, as the pods see them."""
    serving = args.serving_model_dir or _join(args.pipeline_root,
                                              "serving_model")
    return {"pipeline_root": args.pipeline_root,
            "data_root": args.data_root, "serving_model_dir": serving,
            "schema_path": args.schema_path}


def create_kubeflow_pipeline(args: argparse.Namespace) -> "tfx.dsl.Pipeline":
    """create_pipeline with cluster paths; the runner supplies metadata."""
    from pipeline.pipeline import create_pipeline
    return create_pipeline(
        pipeline_name=args.pipeline_name,
        **local_runner.pipeline_settings(args),
        beam_pipeline_args=args.beam_pipeline_args,
        metadata_connection_config=None,
        enable_cache=not args.no_cache,
        **pipeline_paths(args))


def prepare_output(args: argparse.Namespace, suffix: str) -> List[str]:
    """[folder, file name] of the compiled spec; makes the folder."""
    path = os.path.abspath(args.output or args.pipeline_name + suffix)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return [os.path.dirname(path), os.path.basename(path)]


def compile_v1(args: argparse.Namespace) -> str:
    """Writes the Argo workflow package; returns its path."""
    from tfx.orchestration.kubeflow import kubeflow_dag_runner
    output_dir, filename = prepare_output(args, ".tar.gz")
    config = kubeflow_dag_runner.KubeflowDagRunnerConfig(
        kubeflow_metadata_config=(
            kubeflow_dag_runner.get_default_kubeflow_metadata_config()),
        tfx_image=args.image)
    kubeflow_dag_runner.KubeflowDagRunner(
        config=config, output_dir=output_dir,
        output_filename=filename).run(create_kubeflow_pipeline(args))
    return os.path.join(output_dir, filename)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv, __doc__, "<pipeline-name>.tar.gz")
    path = compile_v1(args)
    print(f"wrote {path} (KFP v1 workflow, image {args.image})")
    return 0


def _refuse_local_only_flags(parser: argparse.ArgumentParser,
                             rest: List[str]) -> None:
    # Prefixes too: local_runner's parser accepts abbreviations.
    for token in rest:
        given = token.split("=", 1)[0]
        for flag, instead in _LOCAL_ONLY_FLAGS.items():
            if given.startswith("--") and flag.startswith(given):
                parser.error(f"{flag} is a local_runner flag"
                             + (f"; use {instead}" if instead else ""))


def _is_pod_visible(path: str) -> bool:
    return "://" in path or path.startswith("/")


def _join(root: str, *parts: str) -> str:
    # Plain "/" joins: the paths are URLs or pod paths, never local ones.
    return "/".join([root.rstrip("/"), *parts])


if __name__ == "__main__":
    sys.exit(main())
