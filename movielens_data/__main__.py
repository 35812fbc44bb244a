"""Command line: prepare pipeline CSVs.

    python -m movielens_data fetch-100k --dest DIR [--wheel WHEEL]
    python -m movielens_data convert --source FOLDER --dest DIR
    python -m movielens_data synthetic --users N --items N --ratings N \
        --seed S --dest DIR
    python -m movielens_data validate PATH

Results go to stdout, progress to stderr. Bad data (DataError) or bad sizes
print `error: <message>` on stderr and exit 2; a failed download exits 1.
"""
import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional

from movielens_data.errors import DataError
from movielens_data.output import (ML1M_RATINGS_FILE, items_csv_path,
                                   write_items_csv, write_ml1m_files,
                                   write_pipeline_csv)
from movielens_data.parsers import convert_folder
from movielens_data.recbole import DownloadError, fetch_ml100k
from movielens_data.synthetic import generate_ratings, synthetic_items
from movielens_data.validate import PipelineCsvSummary, validate_pipeline_csv


class _UsageError(Exception):
    """Arguments that cannot work (e.g. more ratings than pairs)."""


def _report(summary: PipelineCsvSummary, items_csv: Optional[Path]) -> None:
    print(f"ratings: {summary.path} ({summary.rows} ratings, "
          f"{summary.users} users, {summary.items} items)")
    if items_csv is not None:
        print(f"items: {items_csv}")


def _fetch_100k(args: argparse.Namespace) -> None:
    files = fetch_ml100k(args.dest, wheel=args.wheel)
    _report(validate_pipeline_csv(files.ratings_csv), files.items_csv)


def _convert(args: argparse.Namespace) -> None:
    ratings_csv, items_csv, _ = convert_folder(args.source, args.dest)
    _report(validate_pipeline_csv(ratings_csv), items_csv)


def _synthetic(args: argparse.Namespace) -> None:
    logging.getLogger(__name__).info("generating %d ratings", args.ratings)
    try:
        ratings = generate_ratings(args.users, args.items, args.ratings,
                                   args.seed)
    except ValueError as error:
        raise _UsageError(str(error)) from None
    if args.format == "ml-1m":
        folder = write_ml1m_files(ratings, synthetic_items(ratings), args.dest)
        print(f"ratings: {folder / ML1M_RATINGS_FILE} ({len(ratings)} "
              f"ratings, MovieLens-1M format; turn it into a pipeline CSV "
              f"with `convert --source {folder} --dest ...`)")
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
    fetch.add_argument("--dest", type=Path, required=True)
    fetch.add_argument("--wheel", type=Path,
                       help="an already downloaded recbole-1.2.1 wheel")
    convert = commands.add_parser(
        "convert", help="GroupLens/RecBole folder -> DEST/ratings.csv")
    convert.add_argument("--source", type=Path, required=True)
    convert.add_argument("--dest", type=Path, required=True)
    synthetic = commands.add_parser("synthetic", help="synthetic ratings")
    for name in ("users", "items", "ratings", "seed"):
        synthetic.add_argument(f"--{name}", type=int, required=True)
    synthetic.add_argument("--dest", type=Path, required=True)
    synthetic.add_argument(
        "--format", choices=("pipeline", "ml-1m"), default="pipeline",
        help="pipeline: DEST/ratings.csv ready to run; ml-1m: "
             "DEST/ratings.dat and movies.dat as GroupLens ships "
             "MovieLens-1M, for `convert`")
    validate = commands.add_parser("validate", help="check a pipeline CSV")
    validate.add_argument("path", type=Path)
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
        return 2
    except (DownloadError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
