"""What both Kubeflow runners (kubeflow_runner.py, kubeflow_v2_runner.py)
share: the cluster flags and their checks (paths the pods see, a complete
Beam preset), the Beam preset's arguments, the paths and create_pipeline
call, and where the compiled spec goes. A runner owns only its
orchestrator; no runner imports another.

Imports no TensorFlow: a bad flag is reported at once.
"""
import argparse
import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from pipeline import beam_args, configs
from pipeline.beam_options import add_portable_flags, portable_beam_args
from pipeline.settings import PipelinePaths, Runtime
from pipeline.options import (Parser, add_pipeline_flags, hparams_from_args,
                              pipeline_settings, ranged)

if TYPE_CHECKING:
    from tfx import v1 as tfx

_COUNT = ranged(int, 0)

# The curated schema inside the image: the Dockerfile links it there from the
# installed package, whose site-packages path depends on the base image.
IMAGE_SCHEMA_PATH = "/opt/movielens-tfx/schema.pbtxt"

# local_runner.py's flags that make no sense in a cluster, and their
# replacements.
_LOCAL_ONLY_FLAGS = {"--data-dir": "--data-root",
                     "--output-root": "--pipeline-root",
                     "--skip-data-check": None}

_BEAM_PRESETS_HELP = """\
Beam presets (pipeline/beam_args.py):
  direct    DirectRunner, multi-processing inside each pod (default)
  local     DirectRunner in-memory, one process (tiny data only)
  dataflow  Dataflow, workers run --image (--project --region --temp-location)
  portable  Beam's portable runner protocol, which Flink, Spark and Dataflow
            Runner v2 use: a Beam job service at --job-endpoint
  flink     portable, against a Flink job server (--job-endpoint)
  spark     portable, against a Spark job server (--job-endpoint)
Portable workers: EXTERNAL (default) uses a Beam worker pool running --image
(e.g. a sidecar of each task manager / worker); DOCKER has them start --image.
"""


def build_cluster_parser(description: str,
                         default_output: str) -> argparse.ArgumentParser:
    """The cluster flags, then the flags every runner shares."""
    parser = Parser(
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
                             "%(default)s, the copy installed in the image)")
    default_path = os.path.join(configs.KUBEFLOW_OUTPUT_DIR, default_output)
    parser.add_argument("--output", default=None,
                        help=f"compiled spec file (default: {default_path} "
                             f"under the current folder)")
    beam = parser.add_argument_group("Beam")
    beam.add_argument("--beam-preset", choices=beam_args.PRESETS,
                      default="direct", help="where Beam runs (see below)")
    beam.add_argument("--beam-workers", type=_COUNT, default=0,
                      help="direct/local: worker processes per pod "
                           "(0: one per CPU); dataflow: most workers")
    beam.add_argument("--project", help="dataflow: GCP project")
    beam.add_argument("--region", help="dataflow: GCP region")
    beam.add_argument("--temp-location", help="dataflow: gs:// temp folder")
    add_portable_flags(beam)
    beam.add_argument("--beam-arg", action="append", default=[],
                      metavar="ARG", help="extra raw Beam argument, "
                      "repeatable: --beam-arg=--max_num_workers=8")
    add_pipeline_flags(parser)
    return parser


def parse_cluster_args(argv: Optional[List[str]], description: str,
                       default_output: str) -> argparse.Namespace:
    """All flags, checked: pod-visible paths, a complete Beam preset,
    hyper-parameters that go together."""
    parser = build_cluster_parser(description, default_output)
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
        hparams_from_args(args)  # flags that cannot go together, now
    except ValueError as error:
        parser.error(str(error))
    return args


def beam_pipeline_args(args: argparse.Namespace) -> List[str]:
    """The preset's arguments, then the raw --beam-arg ones."""
    preset = args.beam_preset
    if preset == "local":
        chosen = beam_args.local(max(args.beam_workers, 1))
    elif preset == "direct":
        chosen = beam_args.direct(args.beam_workers, args.image)
    elif preset == "dataflow":
        chosen = beam_args.dataflow(args.project, args.region,
                                    args.temp_location, args.image,
                                    max_workers=args.beam_workers or None)
    else:
        unreachable = [path for path in args.extra_package
                       if not _is_pod_visible(path)]
        if unreachable:
            raise ValueError(f"--extra-package must be a URL (gs://...) or "
                             f"an absolute path the pods mount, got "
                             f"{unreachable[0]!r}")
        chosen = portable_beam_args(args, image=args.image)
    return chosen + list(args.beam_arg)


def pipeline_paths(args: argparse.Namespace) -> PipelinePaths:
    """Every path the pipeline needs, as the pods see them."""
    serving = args.serving_model_dir or _join(args.pipeline_root,
                                              "serving_model")
    return PipelinePaths(
        pipeline_root=args.pipeline_root, data_root=args.data_root,
        serving_model_dir=serving, schema_path=args.schema_path)


def create_kubeflow_pipeline(args: argparse.Namespace,
                             baseline: str = configs.LATEST_PUSHED_BASELINE,
                             trainer_vertex_spec: Optional[
                                 Dict[str, Any]] = None
                             ) -> "tfx.dsl.Pipeline":
    """create_pipeline with cluster paths and the orchestrator's own
    metadata; the runner says which baseline resolver its orchestrator
    runs and, on Vertex AI, where the Trainer runs."""
    from pipeline.pipeline import create_pipeline
    return create_pipeline(
        pipeline_name=args.pipeline_name,
        paths=pipeline_paths(args),
        **pipeline_settings(args),
        runtime=Runtime(beam_pipeline_args=tuple(args.beam_pipeline_args),
                        enable_cache=not args.no_cache, baseline=baseline,
                        trainer_vertex_spec=trainer_vertex_spec))


def prepare_output(args: argparse.Namespace, suffix: str) -> List[str]:
    """[folder, file name] of the compiled spec: --output, else
    <pipeline name><suffix> in configs.KUBEFLOW_OUTPUT_DIR (never the
    current folder itself, the repository's root for most); makes the
    folder."""
    path = os.path.abspath(args.output or os.path.join(
        configs.KUBEFLOW_OUTPUT_DIR, args.pipeline_name + suffix))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return [os.path.dirname(path), os.path.basename(path)]


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
