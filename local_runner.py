"""Runs the pipeline on this machine: LocalDagRunner, Beam DirectRunner, SQLite.

    python local_runner.py --data-dir data/ml-100k --output-root outputs

With `--beam-preset portable --job-endpoint HOST:PORT`, the Beam components
run as jobs of a Beam job service instead (Beam's portable runner protocol,
as on Flink or Spark), with the project's wheel staged for the workers
(docs/kubeflow-vertex.md).

Owns only paths and runner configuration; the pipeline itself is
pipeline.pipeline.create_pipeline, the same for every runner. Progress goes
to stdout, full logs to <output-root>/logs/<pipeline>-<time>.log.

Exit codes (docs/data.md): 0 done; 1 a component failed; 2 bad data (the
data check), a bad flag, flags that cannot go together or a Beam job
endpoint nothing listens on; 3 another run holds the pipeline root; 4 no
space left on device.
"""
import argparse
import errno
import os
import re
import shlex
import socket
import sys
import time
from typing import Iterator, List, Optional

from runtime.quiet import quiet_tensorflow

quiet_tensorflow()

# None of these imports TensorFlow.
from pipeline import beam_args, beam_options, configs, options  # noqa: E402
from pipeline.settings import PipelinePaths, Runtime  # noqa: E402
from runtime import run_lock  # noqa: E402
from trainer_module.hparams import HParams  # noqa: E402

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2  # argparse's own code for a bad flag
EXIT_BUSY = 3
EXIT_DISK_FULL = 4
LOCAL_PRESETS = ("local", "portable")
# How long a Beam job service may take to accept a connection.
ENDPOINT_CHECK_SECONDS = 5.0


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = options.Parser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data-dir", default=configs.DEFAULT_DATA_DIR,
                        help="folder holding the pipeline CSV (ratings.csv); "
                             "make one with `python -m movielens_data`")
    parser.add_argument("--output-root", default=configs.DEFAULT_OUTPUT_ROOT,
                        help="pipeline artifacts, metadata, served models, logs")
    parser.add_argument("--beam-workers", type=options.ranged(int, 1),
                        default=1,
                        help="1: Beam in-memory in this process; N > 1: "
                             "DirectRunner multi-processing with N workers")
    beam = parser.add_argument_group("Beam")
    beam.add_argument("--beam-preset", choices=LOCAL_PRESETS,
                      default="local",
                      help="local: the DirectRunner (--beam-workers); "
                           "portable: Beam's portable runner protocol, "
                           "jobs sent to --job-endpoint, the project's "
                           "wheel staged to the workers")
    beam_options.add_portable_flags(beam)
    parser.add_argument("--skip-data-check", action="store_true",
                        help="skip the CSV check before the run; the "
                             "pipeline's ExampleValidator still stops bad data")
    parser.add_argument("--stop-after", choices=configs.COMPONENT_IDS,
                        metavar="COMPONENT",
                        help="run only this component and those it needs, "
                             "e.g. Trainer: train and export, evaluate and "
                             "push nothing; one of "
                             + ", ".join(configs.COMPONENT_IDS))
    options.add_pipeline_flags(parser)
    args = parser.parse_args(argv)
    if args.beam_preset == "portable":
        if not args.job_endpoint:
            parser.error("--beam-preset portable needs --job-endpoint "
                         "HOST:PORT")
        try:  # the flags only; the wheel is built when the run starts
            beam_options.portable_beam_args(args)
        except ValueError as error:
            parser.error(f"--beam-preset portable: {error}")
    return args


def check_data(data_dir: str) -> bool:
    """`python -m movielens_data validate` before any component runs: the
    same function, so the same summary line or `error:` line. False on bad
    data."""
    from movielens_data.errors import DataError
    from movielens_data.validate import describe_summary, validate_pipeline_csv
    if os.path.isfile(data_dir):
        print(f"error: --data-dir {data_dir}: must be the folder holding "
              f"ratings.csv, not a file", file=sys.stderr)
        return False
    try:
        summary = validate_pipeline_csv(data_dir)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return False
    print(describe_summary(summary))
    return True


def run(args: argparse.Namespace) -> int:
    try:
        hparams = options.hparams_from_args(args)
    except ValueError as error:  # e.g. --recipe fast with --objective ranking
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.beam_preset == "portable" and not job_service_answers(
            args.job_endpoint):
        return EXIT_BAD_INPUT
    if not args.skip_data_check and not check_data(args.data_dir):
        return EXIT_BAD_INPUT
    paths = configs.LocalPaths(args.output_root, args.pipeline_name)
    try:
        paths.make_dirs()
        with run_lock.exclusive_run(os.path.dirname(paths.metadata_path),
                                    args.pipeline_name):
            return run_pipeline(args, hparams, paths)
    except run_lock.PipelineBusyError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BUSY
    except OSError as error:
        if not is_disk_full(error):
            raise
        print(disk_full_message(error, "before any component ran",
                                args.output_root), file=sys.stderr)
        return EXIT_DISK_FULL


def run_pipeline(args: argparse.Namespace, hparams: HParams,
                 paths: configs.LocalPaths) -> int:
    """Builds the pipeline, runs it with LocalDagRunner, prints a summary."""
    from runtime import metadata_report, progress

    try:
        beam_pipeline_args = local_beam_args(args)
    except RuntimeError as error:  # the project's wheel was not built
        print(f"error: --beam-preset {args.beam_preset}: {error}",
              file=sys.stderr)
        return EXIT_FAILED
    try:
        tfx_pipeline = build_pipeline(args, hparams, paths,
                                      beam_pipeline_args)
    except ValueError as error:  # --stop-after a component it lacks
        print(f"error: --stop-after {args.stop_after}: {error}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    log_path = os.path.join(
        paths.log_dir, f"{args.pipeline_name}-{time.strftime('%Y%m%d-%H%M%S')}.log")
    console = progress.route_logs(log_path,
                                  [c.id for c in tfx_pipeline.components])
    print(f"pipeline: {args.pipeline_name}, root {paths.pipeline_root}\n"
          f"split: {describe_split(args.split, args.split_seed)}\n"
          f"logs: {log_path}")
    try:
        progress.ProgressDagRunner(console).run(tfx_pipeline)
    except Exception as error:  # pylint: disable=broad-except
        if is_disk_full(error):
            during = (f"while {console.running} ran" if console.running
                      else "while the pipeline ran")
            print(disk_full_message(error, during, args.output_root,
                                    log_path), file=sys.stderr)
            return EXIT_DISK_FULL
        print(f"error: the pipeline failed: {_root_cause(error)}\n"
              f"(full log: {log_path})", file=sys.stderr)
        return EXIT_FAILED
    store = metadata_report.open_store(paths.metadata_path)
    if args.stop_after:
        print_partial_summary(store, args.stop_after)
    else:
        print_summary(store, paths)
    return 0


def build_pipeline(args: argparse.Namespace, hparams: HParams,
                   paths: configs.LocalPaths, beam_pipeline_args: List[str]):
    """create_pipeline with this machine's paths, Beam and SQLite store."""
    from tfx.orchestration import metadata
    from pipeline.pipeline import create_pipeline
    return create_pipeline(
        pipeline_name=args.pipeline_name,
        paths=PipelinePaths(pipeline_root=paths.pipeline_root,
                            data_root=os.path.abspath(args.data_dir),
                            serving_model_dir=paths.serving_model_dir),
        **options.pipeline_settings(args, hparams),
        runtime=Runtime(
            beam_pipeline_args=tuple(beam_pipeline_args),
            metadata_connection_config=(
                metadata.sqlite_metadata_connection_config(
                    paths.metadata_path)),
            enable_cache=not args.no_cache, stop_after=args.stop_after))


def local_beam_args(args: argparse.Namespace) -> List[str]:
    """The DirectRunner's arguments, or the portable runner's with the
    project's wheel (built once per content under <output-root>/wheels)."""
    if args.beam_preset != "portable":
        return beam_args.local(args.beam_workers)
    from runtime.project_wheel import project_wheel
    wheel = project_wheel(os.path.join(os.path.abspath(args.output_root),
                                       "wheels"))
    return beam_options.portable_beam_args(args, extra_packages=[wheel])


def job_service_answers(endpoint: str) -> bool:
    """Whether anything accepts connections at the Beam job endpoint
    (host:port); else says so. The runner itself would wait up to
    --job-server-timeout (a day) per component."""
    host, _, port = endpoint.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)),
                                      timeout=ENDPOINT_CHECK_SECONDS):
            return True
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) else None
        print(f"error: --job-endpoint {endpoint}: no Beam job service "
              f"answers there ({reason or error}); start one first, e.g. "
              f"python -m apache_beam.runners.portability."
              f"local_job_service_main --port {port or 8099}",
              file=sys.stderr)
        return False


def print_partial_summary(store, stopped_after: str) -> None:
    """What ran, and what a partial run left out."""
    from runtime import metadata_report
    print(f"\nsummary (stopped after {stopped_after}: nothing downstream of "
          f"it ran, nothing was pushed):")
    for step in metadata_report.component_runs(store):
        print(f"  {step.component:32s} {step.state:9s} {step.seconds:8.1f} s"
              + cached_note(step))


def describe_split(split: str, seed: int) -> str:
    """How the ratings are split, in the run's first lines."""
    train = round(100 * configs.TRAIN_HASH_BUCKETS / (
        configs.TRAIN_HASH_BUCKETS + configs.EVAL_HASH_BUCKETS))
    shares = f"{train}/{100 - train}"
    if split == configs.USER_STRATIFIED_SPLIT:
        return f"{split}, each user's ratings {shares} (seed {seed})"
    return f"{split}, all ratings hashed {shares}"


def print_summary(store, paths: configs.LocalPaths) -> None:
    """What ran, how good the model is, what was pushed or is served, where
    to look."""
    from components.topk_evaluator.executor import (SUMMARY_FILE,
                                                    read_evaluation)
    from runtime import metadata_report
    steps = metadata_report.component_runs(store)
    print("\nsummary:")
    for step in steps:
        print(f"  {step.component:32s} {step.state:9s} {step.seconds:8.1f} s"
              + cached_note(step))
    evaluation = metadata_report.latest_evaluation_uri(store)
    print(f"TFMA evaluation (tfma.load_eval_result): {evaluation}")
    if evaluation:
        metrics = metadata_report.meaningful_tfma_metrics(
            metadata_report.overall_metrics(evaluation))
        print("  eval split: " + ", ".join(
            f"{name} {value:.4f}" for name, value in sorted(metrics.items())))
    topk = metadata_report.latest_evaluation_uri(store,
                                                 configs.TOPK_EVALUATOR_ID)
    print(f"top-k evaluation: {topk}")
    if topk:
        with open(os.path.join(topk, SUMMARY_FILE)) as handle:
            print("  " + handle.read().replace("\n", "\n  "))
        warning = metadata_report.below_popularity(read_evaluation(topk))
        if warning:
            print(f"warning: {warning}")
    print(push_outcome(store, steps, topk))
    recommendations = batch_recommendations_line(store)
    if recommendations:
        print(recommendations)
    model_run = os.path.join(paths.pipeline_root, configs.TRAINER_ID,
                             "model_run")
    print(f"TensorBoard: {tensorboard_command(model_run)}")


def batch_recommendations_line(store) -> Optional[str]:
    """Where the BatchRecommender wrote every user's top-k, or that it wrote
    none (nothing pushed); None when the pipeline has no BatchRecommender."""
    from components.batch_recommender import executor
    from components.batch_recommender.recommend import CSV_FILE
    from runtime import metadata_report
    output = metadata_report.latest_output(
        store, configs.BATCH_RECOMMENDER_ID, "recommendations")
    if output is None:
        return None
    properties = output.custom_properties
    if not properties[executor.RECOMMENDED_KEY].int_value:
        return "batch recommendations: none written (no model was pushed)"
    return (f"batch recommendations (top {properties[executor.K_KEY].int_value}"
            f" for {properties[executor.USERS_KEY].int_value:,} users, model "
            f"version {properties[executor.MODEL_VERSION_KEY].string_value}): "
            f"{os.path.join(output.uri, CSV_FILE)}")


def cached_note(step) -> str:
    """A cache hit's own time is ~0 s: say so, with the time of the
    execution it reused."""
    if step.state != "CACHED":
        return ""
    if step.cached_from_seconds is None:
        return " (cached)"
    return f" (cached; it ran {step.cached_from_seconds:.1f} s)"


def push_outcome(store, steps, topk_uri: Optional[str]) -> str:
    """The closing line(s) about the served model: pushed now; left in
    place by an unchanged (cached) re-run; or not pushed, with the one
    still served and, if it ranks below popularity, a warning."""
    from components.topk_evaluator.executor import read_evaluation
    from runtime import metadata_report
    served = metadata_report.served_model(store)
    where = served.describe() if served else "none"
    if metadata_report.pusher_was_cached(steps):
        return (f"unchanged (cached re-run: nothing trained, judged or "
                f"pushed anew); pushed model: {where}")
    if metadata_report.latest_blessing(store):
        return f"pushed model: {where}"
    text = (f"not pushed (see the checks above); the served model is "
            f"still: {where}")
    if served and served.topk_uri and served.topk_uri != topk_uri:
        warning = metadata_report.below_popularity(
            read_evaluation(served.topk_uri), "the served model")
        if warning:
            text += f"\nwarning: {warning}"
    return text


def tensorboard_command(logdir: str) -> str:
    """TensorBoard as installed beside this Python (the venv's bin/, which
    a plain shell does not have on its PATH), relative to the current
    folder when inside it: `.venv/bin/tensorboard --logdir ...` from the
    repository root."""
    tool = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    if not os.path.isfile(tool):
        tool = "tensorboard"
    elif not os.path.relpath(tool).startswith(os.pardir):
        tool = os.path.relpath(tool)
    return f"{shlex.quote(tool)} --logdir {shlex.quote(logdir)}"


# strerror(ENOSPC): what TensorFlow's ResourceExhaustedError and Beam's
# re-raised errors carry in their text, after the path being written.
_NO_SPACE = os.strerror(errno.ENOSPC)
_WRITTEN_PATH = re.compile(r"(\S+); " + re.escape(_NO_SPACE))
# SQLITE_FULL, as ML Metadata's InternalError words it for the local store.
_SQLITE_FULL = "database or disk is full"


def _causes(error: BaseException) -> Iterator[BaseException]:
    """error, then what it was raised from or while handling, and so on."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def is_disk_full(error: BaseException) -> bool:
    """Whether a full disk caused `error`: an OSError with errno ENOSPC, or
    an error saying so in its text (TensorFlow's and Beam's wrap it; the
    metadata store's SQLite says `database or disk is full`)."""
    return any((isinstance(cause, OSError) and cause.errno == errno.ENOSPC)
               or _NO_SPACE in str(cause) or _SQLITE_FULL in str(cause)
               for cause in _causes(error))


def disk_full_message(error: BaseException, during: str, output_root: str,
                      log_path: Optional[str] = None) -> str:
    """One line instead of TensorFlow's message and its embedded trace:
    when (`during`: "while Trainer ran") and where it happened, what to do,
    that nothing was pushed."""
    root = os.path.abspath(output_root)
    written = _written_path(error)
    where = (f"writing {written}" if written and not
             os.path.abspath(written).startswith(root + os.sep)
             else f"under {root}")
    log = f" (full log: {log_path})" if log_path else ""
    return (f"error: no space left on device {during} ({where}); free "
            f"space and re-run: nothing was pushed{log}")


def _written_path(error: BaseException) -> Optional[str]:
    """The file being written when the disk filled up, if it is named."""
    for cause in _causes(error):
        if isinstance(cause, OSError) and cause.filename:
            return os.fspath(cause.filename)
        match = _WRITTEN_PATH.search(str(cause))
        if match:
            return match.group(1)
    return None


def _root_cause(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    return f"{type(error).__name__}: {error}"


def main(argv: Optional[List[str]] = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
