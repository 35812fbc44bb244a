"""Runs the pipeline on this machine: LocalDagRunner, Beam DirectRunner, SQLite.

    python local_runner.py --data-dir data/ml-100k --output-root outputs

Owns only paths and runner configuration; the pipeline itself is
pipeline.pipeline.create_pipeline, the same for every runner. Progress goes
to stdout, full logs to <output-root>/logs/<pipeline>-<time>.log.
"""
import argparse
import os
import sys
import time
import warnings
from typing import Any, Dict, List, Optional

# TensorFlow's C++ start-up chatter and google-api-core's notice about Python
# 3.10 (the stack's pinned version) are noise on a console.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message=".*non-supported Python version.*")

from trainer_module import features  # noqa: E402  (no TF import)
from trainer_module import hparams as hparams_lib  # noqa: E402
from trainer_module.hparams import HParams  # noqa: E402
from pipeline import beam_args, configs, run_lock  # noqa: E402

_HPARAM_FLAGS = {
    # HParams field (flag --field-name) -> (type, help)
    "epochs": (int, "passes over the train split (seed: 50)"),
    "train_steps": (int, "train exactly this many steps (overrides --epochs)"),
    "batch_size": (int, "examples per step (seed: 256)"),
    "linear_learning_rate": (float, "FTRL learning rate (seed: 0.0001)"),
    "linear_l1": (float, "FTRL L1 regularization (seed: 0.0)"),
    "crossed_hash_buckets": (int, "buckets of the user x item cross (1000)"),
    "dnn_learning_rate": (float, "Adagrad learning rate (seed: 0.1)"),
    "user_embedding_dim": (int, "user embedding size (seed: 64)"),
    "item_embedding_dim": (int, "item embedding size (seed: 4)"),
    "dropout": (float, "DNN dropout rate (seed: 0.3)"),
    "random_seed": (int, "graph-level random seed (123)"),
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data-dir", default=configs.DEFAULT_DATA_DIR,
                        help="folder holding the pipeline CSV (ratings.csv); "
                             "make one with `python -m movielens_data`")
    parser.add_argument("--output-root", default=configs.DEFAULT_OUTPUT_ROOT,
                        help="pipeline artifacts, metadata, served models, logs")
    parser.add_argument("--beam-workers", type=int, default=1,
                        help="1: Beam in-memory in this process; N > 1: "
                             "DirectRunner multi-processing with N workers")
    parser.add_argument("--skip-data-check", action="store_true",
                        help="skip the CSV check before the run; the "
                             "pipeline's ExampleValidator still stops bad data")
    add_pipeline_flags(parser)
    return parser.parse_args(argv)


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
    model.add_argument("--negatives-per-positive", type=int,
                       default=configs.NEGATIVES_PER_POSITIVE,
                       help="ranking: unrated movies sampled per rating")
    model.add_argument("--sampling-rounds", type=int,
                       default=configs.SAMPLING_ROUNDS,
                       help="ranking: rounds of fresh negatives (epochs)")
    model.add_argument("--hidden-units", default=None,
                       help="DNN layer sizes, comma-separated "
                            "(seed: 1024,32,1024)")
    model.add_argument("--no-batch-norm", action="store_true",
                       help="turn off the DNN's batch normalization")
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
    return hparams_lib.recipe(args.recipe, values)


def pipeline_settings(args: argparse.Namespace,
                      hparams: Optional[HParams] = None) -> Dict[str, Any]:
    """create_pipeline's arguments from add_pipeline_flags' flags (the same
    for every runner): hyper-parameters, gates, negative sampling."""
    return dict(
        hparams=hparams or hparams_from_args(args),
        max_rmse=args.max_rmse,
        rmse_tolerance=args.rmse_tolerance,
        top_k=args.top_k,
        min_ndcg=args.min_ndcg,
        ndcg_tolerance=args.ndcg_tolerance,
        negatives_per_positive=args.negatives_per_positive,
        sampling_rounds=args.sampling_rounds,
        min_auc=args.min_auc,
        auc_tolerance=args.auc_tolerance)


def check_data(data_dir: str) -> None:
    """Validates the input before any component runs; exits on bad data."""
    from movielens_data.errors import DataError
    from movielens_data.validate import validate_pipeline_csv
    if not os.path.isdir(data_dir):
        sys.exit(f"error: no data folder {data_dir!r}. Fetch MovieLens-100k "
                 f"with `python -m movielens_data fetch-100k --dest data` or "
                 f"point --data-dir at a folder holding ratings.csv.")
    try:
        summary = validate_pipeline_csv(data_dir)
    except DataError as error:
        sys.exit(f"error: {error}")
    print(f"data: {summary.path}: {summary.rows} ratings, {summary.users} "
          f"users, {summary.items} items")


def run(args: argparse.Namespace) -> int:
    try:
        hparams = hparams_from_args(args)
    except ValueError as error:  # e.g. --dropout 1.5, --recipe fast for ranking
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not args.skip_data_check:
        check_data(args.data_dir)
    paths = configs.LocalPaths(args.output_root, args.pipeline_name)
    paths.make_dirs()
    try:
        with run_lock.exclusive_run(os.path.dirname(paths.metadata_path),
                                    args.pipeline_name):
            return run_pipeline(args, hparams, paths)
    except run_lock.PipelineBusyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3


def run_pipeline(args: argparse.Namespace, hparams: HParams,
                 paths: configs.LocalPaths) -> int:
    """Builds the pipeline, runs it with LocalDagRunner, prints a summary."""
    # Not tfx.v1: see pipeline/pipeline.py.
    from tfx.orchestration import metadata
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    from pipeline import metadata_report, progress
    from pipeline.pipeline import create_pipeline

    tfx_pipeline = create_pipeline(
        pipeline_name=args.pipeline_name,
        pipeline_root=paths.pipeline_root,
        data_root=os.path.abspath(args.data_dir),
        serving_model_dir=paths.serving_model_dir,
        **pipeline_settings(args, hparams),
        beam_pipeline_args=beam_args.local(args.beam_workers),
        metadata_connection_config=(
            metadata.sqlite_metadata_connection_config(
                paths.metadata_path)),
        enable_cache=not args.no_cache)

    log_path = os.path.join(
        paths.log_dir, f"{args.pipeline_name}-{time.strftime('%Y%m%d-%H%M%S')}.log")
    progress.route_logs(log_path, [c.id for c in tfx_pipeline.components])
    print(f"pipeline: {args.pipeline_name}, root {paths.pipeline_root}\n"
          f"logs: {log_path}")
    try:
        LocalDagRunner().run(tfx_pipeline)
    except Exception as error:  # pylint: disable=broad-except
        print(f"error: the pipeline failed: {_root_cause(error)}\n"
              f"(full log: {log_path})", file=sys.stderr)
        return 1
    print_summary(metadata_report.open_store(paths.metadata_path), paths)
    return 0


def print_summary(store, paths: configs.LocalPaths) -> None:
    """What ran, how good the model is, what was pushed, where to look."""
    from components.topk_evaluator.executor import SUMMARY_FILE
    from pipeline import metadata_report
    print("\nsummary:")
    for step in metadata_report.component_runs(store):
        print(f"  {step.component:32s} {step.state:9s} {step.seconds:8.1f} s")
    evaluation = metadata_report.latest_evaluation_uri(store)
    print(f"TFMA evaluation (tfma.load_eval_result): {evaluation}")
    if evaluation:
        metrics = metadata_report.overall_metrics(evaluation)
        print("  eval split: " + ", ".join(
            f"{name} {value:.4f}" for name, value in sorted(metrics.items())))
    topk = metadata_report.latest_evaluation_uri(store, "TopKEvaluator")
    print(f"top-k evaluation: {topk}")
    if topk:
        with open(os.path.join(topk, SUMMARY_FILE)) as handle:
            print("  " + handle.read().replace("\n", "\n  "))
    pushed = metadata_report.latest_pushed_model(store)
    if metadata_report.latest_blessing(store):
        print(f"pushed model: {pushed}")
    else:
        print(f"not pushed (see the checks above); the served model is "
              f"still: {pushed}")
    print(f"TensorBoard: tensorboard --logdir "
          f"{os.path.join(paths.pipeline_root, 'Trainer', 'model_run')}")


def _root_cause(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    return f"{type(error).__name__}: {error}"


def main(argv: Optional[List[str]] = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
