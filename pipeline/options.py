"""Command-line options every runner shares, in one place.

add_pipeline_flags: the pipeline's name, cache, blessing gates and model
(every runner); hparams_from_args and pipeline_settings turn them into
create_pipeline's arguments. build_cluster_parser, parse_cluster_args,
create_kubeflow_pipeline and prepare_output: what both Kubeflow runners
(kubeflow_runner.py, kubeflow_v2_runner.py) share. A runner owns only its
own paths and orchestrator; no runner imports another.

Imports no TensorFlow: a bad flag is reported at once.
"""
import argparse
import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from pipeline import beam_args, configs
from trainer_module import features
from trainer_module import hparams as hparams_lib
from trainer_module.hparams import HParams

if TYPE_CHECKING:
    from tfx import v1 as tfx

_HPARAM_FLAGS = {
    # HParams field (flag --field-name) -> (type, help)
    "epochs": (int, "passes over the train split (seed: 50; ranking: 3, "
                    "each with fresh negatives)"),
    "negatives_per_positive": (int, "ranking: unrated movies sampled per "
                                    "rating as the Trainer reads it (4)"),
    "train_steps": (int, "train exactly this many steps (overrides --epochs)"),
    "batch_size": (int, "examples per step, sampled negatives included "
                        "(seed: 256; ranking: 1024)"),
    "linear_learning_rate": (float, "FTRL learning rate (seed: 0.0001)"),
    "linear_l1": (float, "FTRL L1 regularization (seed: 0.0)"),
    "crossed_hash_buckets": (int, "buckets of the user x item cross (1000)"),
    "dnn_learning_rate": (float, "Adagrad learning rate (seed: 0.1)"),
    "user_embedding_dim": (int, "user embedding size (seed: 64; 0: none, "
                                "with a history embedding)"),
    "history_embedding_dim": (int, "embedding size of the user's rated "
                                   "movies (0: off, the seed)"),
    "item_embedding_dim": (int, "item embedding size (seed: 4)"),
    "ease_l2": (float, "L2 strength of the ranking model's EASE score "
                       "(300)"),
    "dropout": (float, "DNN dropout rate (seed: 0.3)"),
    "random_seed": (int, "graph-level random seed (123)"),
}


def add_pipeline_flags(parser: argparse.ArgumentParser) -> None:
    """The flags every runner shares: name, cache, gates, hyper-parameters."""
    parser.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
    parser.add_argument("--no-cache", action="store_true",
                        help="re-run every component")
    gates = parser.add_argument_group("blessing (what gets pushed)")
    gates.add_argument("--max-rmse", type=float, default=configs.MAX_RMSE,
                       help="bless only a model with eval RMSE at most this")
    gates.add_argument("--rmse-tolerance", type=float,
                       default=configs.RMSE_TOLERANCE,
                       help="bless only if RMSE is at most this much above "
                            "the latest blessed model's")
    gates.add_argument("--top-k", type=int, default=configs.TOP_K,
                       help="recommendations per user the TopKEvaluator ranks")
    gates.add_argument("--topk-sample-users", type=int,
                       default=configs.TOPK_SAMPLE_USERS,
                       help="rank a seeded sample of this many users' "
                            "unseen pools (95 %% intervals per metric) "
                            "instead of every user's; for data past "
                            "MovieLens-1m size (default 0: every user)")
    gates.add_argument("--min-ndcg", type=float, default=configs.MIN_NDCG,
                       help="bless only a model with ndcg@k at least this")
    gates.add_argument("--ndcg-tolerance", type=float,
                       default=configs.NDCG_TOLERANCE,
                       help="bless only if ndcg@k is at most this much "
                            "below the latest blessed model's")
    gates.add_argument("--min-auc", type=float, default=configs.MIN_AUC,
                       help="ranking objective: bless only a model whose "
                            "eval AUC (rated vs sampled movies) is at least "
                            "this")
    gates.add_argument("--auc-tolerance", type=float,
                       default=configs.AUC_TOLERANCE,
                       help="ranking objective: bless only if AUC is at most "
                            "this much below the latest blessed model's")
    gates.add_argument("--auc-user-fraction", type=_fraction,
                       default=configs.AUC_USER_FRACTION,
                       help="ranking objective: measure AUC on the eval "
                            "ratings of a seeded sample of about this share "
                            "of the users; for data past MovieLens-1m size "
                            "(default 1: every user)")
    data = parser.add_argument_group("data")
    data.add_argument("--split", default=configs.DEFAULT_SPLIT,
                      choices=configs.SPLITS,
                      help="random: 75/25 hash split of all ratings "
                           "(default); user_stratified: each user's ratings "
                           "75/25, as Microsoft Recommenders' benchmarks")
    data.add_argument("--split-seed", type=int, default=configs.SPLIT_SEED,
                      help="seed of the user-stratified split (42)")
    model = parser.add_argument_group(
        "model (defaults: the seed notebook for --objective rating, the "
        "tuned recipe of HParams.ranking_defaults for ranking)")
    model.add_argument("--recipe", default=hparams_lib.SEED_RECIPE,
                       choices=sorted(hparams_lib.RECIPES),
                       help="seed: the notebook's hyper-parameters "
                            "(default); fast: a 128-32-128 DNN for 20 "
                            "epochs, for larger data (docs/benchmarks.md); "
                            "the flags below override either")
    model.add_argument("--objective", default=None,
                       choices=features.OBJECTIVES,
                       help="rating: regress the rating (the seed's model, "
                            "default); ranking: classify rated movies "
                            "against sampled unrated ones")
    model.add_argument("--hidden-units", default=None,
                       help="DNN layer sizes, comma-separated "
                            "(seed: 1024,32,1024)")
    model.add_argument("--no-batch-norm", action="store_true",
                       help="turn off the DNN's batch normalization")
    model.add_argument("--no-item-ease-feature", action="store_true",
                       help="ranking: leave out the movie's EASE score "
                            "(its table is 4 bytes per movie pair)")
    for name, (kind, text) in _HPARAM_FLAGS.items():
        model.add_argument("--" + name.replace("_", "-"), type=kind,
                           default=None, help=text)


def hparams_from_args(args: argparse.Namespace) -> HParams:
    """HParams of --recipe (the seed defaults unless given), overridden by
    the flags given."""
    values = {name: getattr(args, name) for name in _HPARAM_FLAGS
              if getattr(args, name) is not None}
    if args.objective:
        values["objective"] = args.objective
    if args.hidden_units:
        values["hidden_units"] = [int(units)
                                  for units in args.hidden_units.split(",")]
    if args.no_batch_norm:
        values["batch_norm"] = False
    if args.no_item_ease_feature:
        values["item_ease_feature"] = False
    return hparams_lib.recipe(args.recipe, values)


def _fraction(text: str) -> float:
    """argparse type: a number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(
            f"must be a number in (0, 1], got {text!r}")
    return value


def pipeline_settings(args: argparse.Namespace,
                      hparams: Optional[HParams] = None) -> Dict[str, Any]:
    """create_pipeline's arguments from add_pipeline_flags' flags (the same
    for every runner): hyper-parameters, gates, negative sampling."""
    return dict(
        hparams=hparams or hparams_from_args(args),
        max_rmse=args.max_rmse,
        rmse_tolerance=args.rmse_tolerance,
        top_k=args.top_k,
        topk_sample_users=args.topk_sample_users,
        min_ndcg=args.min_ndcg,
        ndcg_tolerance=args.ndcg_tolerance,
        min_auc=args.min_auc,
        auc_tolerance=args.auc_tolerance,
        auc_user_fraction=args.auc_user_fraction,
        split=args.split,
        split_seed=args.split_seed)


# ------------------------------------------------- Kubeflow (v1 and v2)

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
  flink     PortableRunner on a Flink job server (--job-endpoint)
  spark     PortableRunner on a Spark job server (--job-endpoint)
Flink and Spark workers: EXTERNAL (default) uses a Beam worker pool sidecar
running --image on each task manager / worker; DOCKER has them start --image.
"""


def build_cluster_parser(description: str,
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
    add_pipeline_flags(parser)
    return parser


def parse_cluster_args(argv: Optional[List[str]], description: str,
                       default_output: str) -> argparse.Namespace:
    """All flags, checked: pod-visible paths, a complete Beam preset."""
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
        **pipeline_settings(args),
        beam_pipeline_args=args.beam_pipeline_args,
        metadata_connection_config=None,
        enable_cache=not args.no_cache,
        **pipeline_paths(args))


def prepare_output(args: argparse.Namespace, suffix: str) -> List[str]:
    """[folder, file name] of the compiled spec; makes the folder."""
    path = os.path.abspath(args.output or args.pipeline_name + suffix)
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

