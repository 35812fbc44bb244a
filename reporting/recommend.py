"""Top-k movie recommendations from a pipeline's latest pushed model.

    python -m reporting.recommend --user 196 [--user 7,42] [--k 10]
    python -m reporting.recommend --all-users --csv recommendations.csv
    python -m reporting.recommend --interactive   # user ids from stdin

The model comes from ML Metadata (the newest model the Pusher pushed for
--pipeline-name under --output-root) unless --model-dir names one. The data
is the newest CsvExampleGen Examples artifact of the same store.

Ranking (recommend_ranking.py) is the model's own `serving_topk` signature
(docs/serving.md): the TopKEvaluator's lists (unclipped score descending,
ties to the smaller item id) computed inside the model, one call for a batch
of users. A model exported before it is ranked by the TopKEvaluator's own
code instead, the recommender core: pool shards and candidate pairs,
ModelScorer (`serving_raw`) and metrics.top_k_per_user. One deliberate
difference: the evaluator's pool excludes only the train split, because eval
ratings are its held-out truth; a recommendation must not repeat a movie the
user rated in ANY split, so here "unseen" means not rated anywhere in the
data the pipeline read.

--interactive loads the model and the data once, then answers each line of
standard input (user ids, as --user takes them) with warm calls, printing
on stderr how long each answer took.

The model's `predictions` output is a column named after what it is: for a
model trained with `--objective rating`, predicted_rating; with `--objective
ranking`, probability (of a positive: the sigmoid of the score). The
objective is the one the Trainer that made the model recorded in the store
(reporting/run_info.py); a --model-dir the store does not know gets the
store's newest Trainer's.

A user id absent from both splits gets the popularity ranking (most train
ratings first, same tie rule) and a note on stderr. Titles come from an
items file (`<data dir>-items.csv`, written by `python -m movielens_data`):
--items-csv, else the one beside the data folder CsvExampleGen read (its
execution records `input_base`), if it is there. Errors exit with code 2 and
one `error:` line on stderr.
"""
import argparse
import os
import sys
import time
from typing import Dict, Iterable, List, Optional, TextIO

from runtime.quiet import quiet_tensorflow

quiet_tensorflow()

import pandas as pd  # noqa: E402

from pipeline import configs  # noqa: E402  (no TF import)
from reporting.recommend_output import (describe_items,  # noqa: E402
                                        format_table, progress,
                                        user_table, write_batch_csv)
from reporting.recommend_ranking import (Ranker,  # noqa: E402
                                         iter_recommendations, known_users,
                                         popular_items, prediction_key,
                                         recommend_for_users)
from reporting.recommend_sources import (PipelineData,  # noqa: E402
                                         RecommendError, find_items_csv,
                                         load_pipeline_data, load_ranker,
                                         load_titles, model_objective,
                                         open_existing_store,
                                         popularity_warning, pushed_model_dir)
import movielens_features as features  # noqa: E402

EXIT_ERROR = 2


def user_ids_arg(text: str) -> List[int]:
    """argparse type: "7" or "7,42" -> [7] or [7, 42]."""
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        ids = []
    if not ids:
        raise argparse.ArgumentTypeError(
            f"user ids must be integers, got {text!r}")
    return ids


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer, got {text!r}")
    return value


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m reporting.recommend", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", type=user_ids_arg, action="extend",
                     metavar="ID[,ID...]",
                     help="user id(s) to print recommendations for; "
                          "repeatable")
    who.add_argument("--all-users", action="store_true",
                     help="every user of the data, to --csv")
    who.add_argument("--interactive", action="store_true",
                     help="load once, then answer user ids read from "
                          "standard input, a line at a time")
    parser.add_argument("--csv", help="with --all-users: output CSV path")
    parser.add_argument("--k", type=positive_int, default=configs.TOP_K,
                        help=f"recommendations per user ({configs.TOP_K})")
    parser.add_argument("--items-csv",
                        help="item_id,title,genres file for titles (default: "
                             "<data dir>-items.csv beside the data the "
                             "pipeline read, if present)")
    parser.add_argument("--output-root", default=configs.DEFAULT_OUTPUT_ROOT)
    parser.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
    parser.add_argument("--model-dir",
                        help="score with this exported model instead of "
                             "the latest pushed one")
    args = parser.parse_args(argv)
    if args.all_users != bool(args.csv):
        parser.error("--all-users and --csv go together")
    return args


def print_user(user_id: int, recommendations: pd.DataFrame,
               data: PipelineData,
               titles: Optional[Dict[int, str]], model_dir: str) -> None:
    """The table of one known user, with a line saying what it ranks."""
    rated = int((data.rated[features.USER_KEY] == user_id).sum())
    unseen = len(data.catalog.item_ids) - rated
    print(f"user {user_id}: top {len(recommendations)} of {unseen:,} unseen "
          f"movies ({rated:,} rated), model {model_dir}")
    print(user_table(recommendations, data.catalog, titles))


def print_fallback(user_id: int, k: int, data: PipelineData,
                   titles: Optional[Dict[int, str]]) -> None:
    """The most popular movies, for a user the model knows nothing about."""
    print(f"user {user_id} is not in the data the model was trained on; "
          f"showing the most popular movies instead", file=sys.stderr)
    print(f"user {user_id}: the {k} movies with the most train ratings")
    print(format_table(describe_items(popular_items(data.catalog, k),
                                      data.catalog, titles)))


def check_csv_folder(path: str) -> None:
    """Fails before minutes of ranking, not after, on a folder typo."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise RecommendError(f"no folder {folder} for --csv {path}")


def print_users(ranker: Ranker, data: PipelineData,
                titles: Optional[Dict[int, str]], model_dir: str,
                user_ids: List[int], k: int, value_key: str) -> None:
    """Each user's table (the popular movies for an unknown one), blank
    lines between."""
    found = recommend_for_users(ranker, data.catalog, data.rated, user_ids,
                                k, value_key)
    known = set(known_users(data.rated).tolist())
    for index, user_id in enumerate(dict.fromkeys(user_ids)):
        if index:
            print()
        if user_id in known:
            print_user(user_id, found[found[features.USER_KEY] == user_id],
                       data, titles, model_dir)
        else:
            print_fallback(user_id, k, data, titles)


def answer_lines(lines: Iterable[str], answer, prompt: bool = False) -> None:
    """answer(user ids) for each line of ids (as --user takes them), with
    the seconds it took on stderr; a bad line is an `error:` line, and the
    next line is read."""
    def ask():
        if prompt:
            print("user id(s)> ", end="", file=sys.stderr, flush=True)
    ask()
    for line in lines:
        if line.strip():
            try:
                user_ids = user_ids_arg(line.strip())
            except argparse.ArgumentTypeError as error:
                print(f"error: {error}", file=sys.stderr)
            else:
                started = time.perf_counter()
                answer(user_ids)
                print(flush=True)  # a blank line between answers
                print(f"answered in {time.perf_counter() - started:.3f} s",
                      file=sys.stderr, flush=True)
        ask()


def run(args: argparse.Namespace, stdin: TextIO = sys.stdin) -> int:
    if args.csv:
        check_csv_folder(args.csv)
    store = open_existing_store(configs.LocalPaths(
        args.output_root, args.pipeline_name).metadata_path)
    model_dir = args.model_dir or pushed_model_dir(
        store, args.pipeline_name, args.output_root)
    data = load_pipeline_data(store)
    titles = load_titles(find_items_csv(args.items_csv, data.data_dir))
    value_key = prediction_key(model_objective(store, model_dir))
    warning = popularity_warning(store, model_dir)
    if warning:
        progress(f"warning: {warning}")
    ranker = load_ranker(model_dir)
    if args.all_users:
        users = known_users(data.rated)
        progress(f"ranking {len(data.catalog.item_ids):,} movies for "
                  f"{len(users):,} users with {model_dir}")
        rows = write_batch_csv(args.csv, iter_recommendations(
            ranker, data.catalog, data.rated, args.k, value_key=value_key),
            titles, len(users))
        progress(f"wrote {rows:,} rows to {args.csv}")
        return 0

    def answer(user_ids: List[int]) -> None:
        print_users(ranker, data, titles, model_dir, user_ids, args.k,
                    value_key)
    if args.interactive:
        progress(f"loaded {model_dir}; user ids, a line at a time "
                 f"(end with Ctrl-D)")
        answer_lines(stdin, answer, prompt=stdin.isatty())
    else:
        answer(args.user)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except RecommendError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
