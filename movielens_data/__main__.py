"""Command line: prepare pipeline CSVs.

    python -m movielens_data fetch-100k --dest DIR [--wheel WHEEL]
    python -m movielens_data convert --source FOLDER --dest DIR
    python -m movielens_data synthetic (--size ml-20m | --users N \
        --items N --ratings N) --seed S --dest DIR [--format ml-20m] \
        [--half-stars]
    python -m movielens_data validate PATH

Results go to stdout, progress to stderr. Errors print one line,
`error: <message>`, on stderr; the exit codes (docs/data.md): 2 for bad data
(DataError), bad sizes or bad flags, 1 for a failed download or another
OS error, 4 for a full disk.
"""
import argparse
import errno
import logging
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional

from movielens_data.errors import DataError
from movielens_data.output import (RAW_FORMATS, items_csv_path,
                                   write_items_csv, write_pipeline_csv,
                                   write_raw_release)
from movielens_data.parsers import convert_folder
from movielens_data.recbole import DownloadError, fetch_ml100k
from movielens_data.synthetic import (PRESETS, generate_ratings,
                                      synthetic_items)
from movielens_data.validate import (PipelineCsvSummary, describe_summary,
                                     validate_pipeline_csv)

EXIT_BAD_INPUT = 2  # argparse's own code for a bad flag, too
EXIT_FAILED = 1
EXIT_DISK_FULL = 4


class _UsageError(Exception):
    """Arguments that cannot work (e.g. more ratings than pairs)."""


def _report(summary: PipelineCsvSummary, items_csv: Optional[Path]) -> None:
    print(describe_summary(summary))
    if items_csv is not None:
        print(f"items: {items_csv}")


def _fetch_100k(args: argparse.Namespace) -> None:
    files = fetch_ml100k(args.dest, wheel=args.wheel)
    _report(validate_pipeline_csv(files.ratings_csv), files.items_csv)


def _convert(args: argparse.Namespace) -> None:
    # Only the paths are kept: the parsed data is freed before validating.
    ratings_csv, items_csv = convert_folder(args.source, args.dest)[:2]
    _report(validate_pipeline_csv(ratings_csv), items_csv)


def _synthetic_shape(args: argparse.Namespace):
    """(users, items, ratings, half stars) from --size or the counts."""
    counts = (args.users, args.items, args.ratings)
    if args.size is not None:
        if any(count is not None for count in counts):
            raise _UsageError("give either --size or --users, --items and "
                              "--ratings, not both")
        preset = PRESETS[args.size]
        return (preset.users, preset.items, preset.ratings,
                preset.half_stars or args.half_stars)
    if any(count is None for count in counts):
        raise _UsageError("give --size, or all of --users, --items and "
                          "--ratings")
    return args.users, args.items, args.ratings, args.half_stars


def _synthetic(args: argparse.Namespace) -> None:
    users, items, count, half_stars = _synthetic_shape(args)
    if half_stars and args.format == "ml-1m":
        raise _UsageError("MovieLens-1M files hold whole stars only: write "
                          "half stars with --format ml-10m or ml-20m")
    logging.getLogger(__name__).info(
        "generating %d ratings (%d users, %d items, %s stars)", count, users,
        items, "half" if half_stars else "whole")
    try:
        ratings = generate_ratings(users, items, count, args.seed,
                                   half_stars=half_stars)
    except ValueError as error:
        raise _UsageError(str(error)) from None
    if args.format in RAW_FORMATS:
        form = RAW_FORMATS[args.format]
        folder = write_raw_release(ratings, synthetic_items(ratings),
                                   args.dest, args.format)
        print(f"ratings: {folder / form.ratings_file} ({len(ratings)} "
              f"ratings, MovieLens-{args.format[3:].upper()} format; turn "
              f"it into a pipeline CSV with `convert --source {folder} "
              f"--dest ...`)")
        return
    ratings_csv = write_pipeline_csv(ratings, args.dest)
    items_csv = write_items_csv(synthetic_items(ratings),
                                items_csv_path(args.dest))
    _report(validate_pipeline_csv(ratings_csv), items_csv)


def _validate(args: argparse.Namespace) -> None:
    _report(validate_pipeline_csv(args.path), None)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m movielens_data",
        description="Prepare MovieLens pipeline CSVs.")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser(
        "fetch-100k", help="real MovieLens-100K from the recbole wheel")
    fetch.add_argument("--dest", type=Path, required=True,
                       help="folder to write into: DEST/ml-100k/ratings.csv "
                            "and DEST/ml-100k-items.csv, e.g. --dest data "
                            "(required, no default)")
    fetch.add_argument("--wheel", type=Path,
                       help="an already downloaded recbole-1.2.1 wheel "
                            "(default: none, download it with pip)")
    convert = commands.add_parser(
        "convert", help="GroupLens/RecBole folder -> DEST/ratings.csv")
    convert.add_argument("--source", type=Path, required=True,
                         help="an unzipped GroupLens release (ml-100k, "
                              "ml-1m, ml-10m, ml-20m, ml-25m, ml-latest) or "
                              "a RecBole dataset folder, told apart by its "
                              "files (required, no default)")
    convert.add_argument("--dest", type=Path, required=True,
                         help="folder to write ratings.csv to; the items "
                              "go to DEST-items.csv beside it (required, "
                              "no default)")
    synthetic = commands.add_parser("synthetic", help="synthetic ratings")
    synthetic.add_argument(
        "--size", choices=tuple(PRESETS),
        help="users, movies and ratings of that GroupLens release ("
             + "; ".join(f"{name}: {preset.users:,} / {preset.items:,} / "
                         f"{preset.ratings:,}"
                         + (", half stars" if preset.half_stars else "")
                         for name, preset in PRESETS.items())
             + "); default: none, give --users, --items and --ratings")
    for name in ("users", "items", "ratings"):
        synthetic.add_argument(
            f"--{name}", type=int,
            help=f"number of {name} (default: none; required without "
                 "--size)")
    synthetic.add_argument("--seed", type=int, required=True,
                           help="random seed: the same seed and sizes give "
                                "the same files (required, no default)")
    synthetic.add_argument("--dest", type=Path, required=True,
                           help="folder to write to; with --format "
                                "pipeline the items go to DEST-items.csv "
                                "beside it (required, no default)")
    synthetic.add_argument(
        "--format", choices=("pipeline",) + tuple(RAW_FORMATS),
        default="pipeline",
        help="pipeline: DEST/ratings.csv ready to run (items in "
             "DEST-items.csv); ml-1m, ml-10m: DEST/ratings.dat and "
             "movies.dat ('::'), ml-20m: DEST/ratings.csv and movies.csv, "
             "as GroupLens ships that release, for `convert`; name DEST as "
             "the release's zip does (" + ", ".join(
                 f"{form.folder}/" for form in RAW_FORMATS.values())
             + ") (default: pipeline)")
    synthetic.add_argument(
        "--half-stars", action="store_true",
        help="ratings in half stars 0.5..5 (default: off, whole stars "
             "1..5; --size ml-10m and ml-20m always use half stars)")
    validate = commands.add_parser("validate", help="check a pipeline CSV")
    validate.add_argument("path", type=Path,
                          help="a pipeline ratings.csv or the folder "
                               "holding it (required, no default)")
    return parser


_COMMANDS: Dict[str, Callable[[argparse.Namespace], None]] = {
    "fetch-100k": _fetch_100k, "convert": _convert,
    "synthetic": _synthetic, "validate": _validate}


def main(argv: Optional[List[str]] = None) -> int:
    """Run one command; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s",
                        stream=sys.stderr)
    try:
        _COMMANDS[args.command](args)
    except (DataError, _UsageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:
        if error.errno == errno.ENOSPC:
            print(f"error: no space left on device: {error.filename or error}"
                  f"; free space and run the command again", file=sys.stderr)
            return EXIT_DISK_FULL
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
