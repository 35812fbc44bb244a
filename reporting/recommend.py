"""Top-k movie recommendations from a pipeline's latest pushed model.

    python -m reporting.recommend --user 196 [--user 7,42] [--k 10]
    python -m reporting.recommend --all-users --csv recommendations.csv

The model comes from ML Metadata (the newest model the Pusher pushed for
--pipeline-name under --output-root) unless --model-dir names one. The data
is the newest CsvExampleGen Examples artifact of the same store.

Ranking is the TopKEvaluator's own code: its pool shards and candidate
pairs, ModelScorer (the model's `serving_raw` signature, unclipped score)
and metrics.top_k_per_user (score descending, ties to the smaller item id).
One deliberate difference: the evaluator's pool excludes only the train
split, because eval ratings are its held-out truth; a recommendation must
not repeat a movie the user rated in ANY split, so here "unseen" means not
rated anywhere in the data the pipeline read.

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
import warnings
from typing import (TYPE_CHECKING, Dict, Iterator, List, NamedTuple,
                    Optional, Sequence)

# Quiet TensorFlow's C++ start-up lines, as local_runner.py does.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message=".*non-supported Python version.*")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline import configs  # noqa: E402  (no TF import)
from trainer_module import features  # noqa: E402

# TensorFlow and TFX load inside the functions that need them: a bad flag or
# path is reported at once, not after their ~10 s of imports.
if TYPE_CHECKING:
    import ml_metadata as mlmd
    from components.topk_evaluator.data import Catalog
    from components.topk_evaluator.pool import UserShard
    from components.topk_evaluator.scoring import ModelScorer

EXIT_ERROR = 2
RANK_KEY = "rank"
SCORE_KEY = "score"
PREDICTED_KEY = "predicted_rating"
# The ranking objective's model predicts the probability that the user
# rates the item (its score is the logit), not a rating.
PROBABILITY_KEY = "probability"
TITLE_KEY = "title"
POPULARITY_KEY = "train_ratings"
CSV_COLUMNS = (features.USER_KEY, RANK_KEY, features.ITEM_KEY, SCORE_KEY,
               PREDICTED_KEY)
# Titles of the default data set, used only when the store does not say
# where the data came from (kept relative: the command runs from the repo).
FALLBACK_ITEMS_CSV = os.path.join("data", "ml-100k-items.csv")


class RecommendError(Exception):
    """A problem the user can fix; main prints it and exits with code 2."""


class PipelineData(NamedTuple):
    """What the pipeline read, as ranking needs it."""
    catalog: "Catalog"
    rated: pd.DataFrame  # user_id, item_id of every split, distinct
    data_dir: Optional[str]  # the folder CsvExampleGen read, if recorded


# ------------------------------------------------------------ ranking


def rated_pairs(splits: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Distinct (user, item) pairs rated in any split: what a user has seen."""
    keys = [features.USER_KEY, features.ITEM_KEY]
    return pd.concat([split[keys] for split in splits],
                     ignore_index=True).drop_duplicates(ignore_index=True)


def known_users(rated: pd.DataFrame) -> np.ndarray:
    """Sorted ids of the users with at least one rating in the data."""
    return np.unique(rated[features.USER_KEY].to_numpy(np.int64))


def prediction_key(objective: str) -> str:
    """The column of the model's predictions for a training objective."""
    return (PROBABILITY_KEY if objective == features.RANKING_OBJECTIVE
            else PREDICTED_KEY)


def csv_columns(value_key: str = PREDICTED_KEY) -> List[str]:
    """CSV_COLUMNS with the predictions column named value_key."""
    return [value_key if name == PREDICTED_KEY else name
            for name in CSV_COLUMNS]


def iter_recommendations(scorer: "ModelScorer", catalog: "Catalog",
                         rated: pd.DataFrame, k: int,
                         user_ids: Optional[Sequence[int]] = None,
                         max_pairs_per_shard: Optional[int] = None,
                         value_key: str = PREDICTED_KEY
                         ) -> Iterator[pd.DataFrame]:
    """Top-k unseen items of each known user, one frame per user shard.

    user_ids None means every user of `rated`; unknown ids are skipped.
    Memory is bounded by the shard size, as in the TopKEvaluator. The
    predictions column is named value_key (prediction_key(objective)).
    """
    from components.topk_evaluator import pool
    if user_ids is not None:
        rated = rated[rated[features.USER_KEY].isin(list(user_ids))]
    # make_shards excludes its first frame's pairs; the second is the
    # evaluator's truth, which recommending does not use.
    shards = pool.make_shards(
        rated, rated.iloc[:0], catalog,
        max_pairs_per_shard or pool.DEFAULT_MAX_PAIRS_PER_SHARD)
    for shard in shards:
        yield rank_shard(scorer, catalog, shard, k, value_key)


def rank_shard(scorer: "ModelScorer", catalog: "Catalog",
               shard: "UserShard", k: int,
               value_key: str = PREDICTED_KEY) -> pd.DataFrame:
    """user_id, rank, item_id, score, <value_key> of one shard."""
    from components.topk_evaluator import metrics, pool
    users, cols = pool.candidate_pairs(shard, len(catalog.item_ids))
    items = catalog.item_ids[cols]
    predictions, scores = scorer.predict(users, items, catalog.genres[cols])
    top = metrics.top_k_per_user(users, items, scores, k)
    # candidate_pairs is row-major (user row, catalog column), so its pair
    # keys are sorted and each top row is found by binary search.
    n_items = len(catalog.item_ids)
    pair_keys = np.searchsorted(shard.user_ids, users) * n_items + cols
    top_keys = (np.searchsorted(shard.user_ids, top.user_ids) * n_items
                + np.searchsorted(catalog.item_ids, top.item_ids))
    found = np.searchsorted(pair_keys, top_keys)
    return pd.DataFrame({
        features.USER_KEY: top.user_ids.astype(np.int64),
        RANK_KEY: top.ranks.astype(np.int64),
        features.ITEM_KEY: top.item_ids.astype(np.int64),
        SCORE_KEY: scores[found],
        value_key: predictions[found],
    }, columns=csv_columns(value_key))


def recommend_for_users(scorer: "ModelScorer", catalog: "Catalog",
                        rated: pd.DataFrame, user_ids: Sequence[int],
                        k: int, value_key: str = PREDICTED_KEY
                        ) -> pd.DataFrame:
    """Top-k unseen items of the known users among user_ids
    (csv_columns(value_key))."""
    frames = list(iter_recommendations(scorer, catalog, rated, k, user_ids,
                                       value_key=value_key))
    if not frames:
        return pd.DataFrame(columns=csv_columns(value_key))
    return pd.concat(frames, ignore_index=True)


def popular_items(catalog: "Catalog", k: int) -> pd.DataFrame:
    """rank, item_id, train_ratings of the k items most rated in train."""
    from components.topk_evaluator import metrics
    counts = catalog.train_counts.astype(np.float64)
    top = metrics.top_k_per_user(np.zeros(len(counts), np.int64),
                                 catalog.item_ids, counts, k)
    by_item = pd.Series(catalog.train_counts, index=catalog.item_ids)
    return pd.DataFrame({
        RANK_KEY: top.ranks.astype(np.int64),
        features.ITEM_KEY: top.item_ids.astype(np.int64),
        POPULARITY_KEY: by_item.loc[top.item_ids].to_numpy(np.int64),
    })


# ------------------------------------------------------------ output


def describe_items(frame: pd.DataFrame, catalog: "Catalog",
                   titles: Optional[Dict[int, str]]) -> pd.DataFrame:
    """frame with title (if titles) and genres columns after item_id."""
    frame = frame.copy()
    at = frame.columns.get_loc(features.ITEM_KEY) + 1
    genres = pd.Series(catalog.genres, index=catalog.item_ids)
    frame.insert(at, features.GENRES_KEY, [
        _text(value) for value in genres.loc[frame[features.ITEM_KEY]]])
    if titles is not None:
        frame.insert(at, TITLE_KEY, [
            titles.get(item, "") for item in frame[features.ITEM_KEY]])
    return frame


def format_table(frame: pd.DataFrame) -> str:
    """A text table: numbers right-aligned (floats to 3 decimals), text
    left-aligned (DataFrame.to_string right-aligns text)."""
    columns = []
    for name in frame.columns:
        values = frame[name]
        numeric = pd.api.types.is_numeric_dtype(values)
        cells = [f"{v:.3f}" if pd.api.types.is_float_dtype(values)
                 else str(v) for v in values]
        width = max([len(name), *map(len, cells)])
        align = str.rjust if numeric else str.ljust
        columns.append([align(text, width) for text in [name, *cells]])
    return "\n".join("  ".join(row).rstrip() for row in zip(*columns))


def user_table(recommendations: pd.DataFrame, catalog: "Catalog",
               titles: Optional[Dict[int, str]]) -> str:
    """One user's recommendations without the user_id column."""
    value_key = (PROBABILITY_KEY if PROBABILITY_KEY in recommendations
                 else PREDICTED_KEY)
    shown = recommendations.drop(columns=[features.USER_KEY])
    shown = shown[[RANK_KEY, features.ITEM_KEY, value_key, SCORE_KEY]]
    return format_table(describe_items(shown, catalog, titles))


def write_batch_csv(path: str, shards: Iterator[pd.DataFrame],
                    titles: Optional[Dict[int, str]], total_users: int
                    ) -> int:
    """Streams shard frames to a CSV; returns the number of rows.

    Written under a temporary name and renamed, so a failed run never
    leaves a partial file that looks complete.
    """
    temp = f"{path}.{os.getpid()}.tmp"
    rows, users, started = 0, 0, time.time()
    try:
        with open(temp, "w", newline="") as out:
            for index, frame in enumerate(shards):
                if titles is not None:
                    frame = frame.assign(**{TITLE_KEY: [
                        titles.get(item, "")
                        for item in frame[features.ITEM_KEY]]})
                frame.to_csv(out, index=False, header=index == 0,
                             float_format="%.6f", lineterminator="\n")
                rows += len(frame)
                users += frame[features.USER_KEY].nunique()
                _progress(f"{users}/{total_users} users "
                          f"({time.time() - started:.1f} s)")
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    return rows


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------- where things are


def open_existing_store(path: str) -> "mlmd.MetadataStore":
    """The metadata store at path; refuses to create a new, empty one."""
    from pipeline import metadata_report
    try:
        return metadata_report.open_existing_store(path)
    except FileNotFoundError as error:
        raise RecommendError(str(error)) from None


def pushed_model_dir(store: "mlmd.MetadataStore", pipeline_name: str,
                     output_root: str) -> str:
    """The newest model the Pusher pushed; an error when there is none."""
    from pipeline import metadata_report
    pushed = metadata_report.latest_pushed_model(store)
    if not pushed:
        raise RecommendError(
            f"pipeline {pipeline_name!r} has no pushed model yet; run "
            f"`python local_runner.py --output-root {output_root} "
            f"--pipeline-name {pipeline_name}` until a model is pushed, or "
            f"pass --model-dir")
    if not os.path.isdir(pushed):
        raise RecommendError(f"the pushed model {pushed} no longer exists")
    return pushed


def load_scorer(model_dir: str) -> "ModelScorer":
    """ModelScorer of an exported model, with a user-facing error."""
    from components.topk_evaluator.scoring import ModelScorer
    if not os.path.isdir(model_dir):
        raise RecommendError(f"no model directory {model_dir}")
    try:
        return ModelScorer(model_dir)
    except (OSError, ValueError) as error:
        raise RecommendError(f"cannot load the model at {model_dir}: "
                             f"{error}") from error


def model_objective(store: "mlmd.MetadataStore", model_dir: str) -> str:
    """The objective the model was trained for, from the store."""
    from reporting import run_info
    try:
        return run_info.model_objective(store, model_dir)
    except ValueError as error:  # a custom_config that is not valid
        raise RecommendError(f"cannot tell what the model at {model_dir} "
                             f"predicts: {error}") from error


def load_pipeline_data(store: "mlmd.MetadataStore") -> PipelineData:
    """Catalog and rated pairs of the newest CsvExampleGen output."""
    from tfx.types import artifact_utils
    from components.topk_evaluator.data import build_catalog, read_split
    from pipeline import metadata_report
    examples = metadata_report.latest_examples(store)
    if examples is None:
        raise RecommendError("the metadata store has no CsvExampleGen "
                             "examples; run local_runner.py first")
    names = artifact_utils.decode_split_names(examples.split_names)
    if configs.TRAIN_SPLIT not in names:
        raise RecommendError(f"the examples at {examples.uri} have no "
                             f"{configs.TRAIN_SPLIT!r} split ({names})")
    splits = {name: read_split(examples, name) for name in names}
    train = splits.pop(configs.TRAIN_SPLIT)
    others = (pd.concat(list(splits.values()), ignore_index=True)
              if splits else train.iloc[:0])
    return PipelineData(catalog=build_catalog(train, others),
                        rated=rated_pairs([train, others]),
                        data_dir=example_gen_input_base(store))


def example_gen_input_base(store: "mlmd.MetadataStore") -> Optional[str]:
    """The data folder the newest CsvExampleGen output was read from."""
    from ml_metadata.proto import metadata_store_pb2
    from pipeline import metadata_report
    artifact = metadata_report.latest_output(store, "CsvExampleGen",
                                             "examples")
    if artifact is None:
        return None
    ids = [event.execution_id
           for event in store.get_events_by_artifact_ids([artifact.id])
           if event.type == metadata_store_pb2.Event.OUTPUT]
    for execution in store.get_executions_by_id(ids):
        value = execution.custom_properties.get("input_base")
        if value is not None and value.string_value:
            return value.string_value
    return None


def find_items_csv(given: Optional[str], data_dir: Optional[str]
                   ) -> Optional[str]:
    """--items-csv; else the items file beside the data folder the store
    names (or none: another data set's titles would be wrong); else, when
    the store names no folder, data/ml-100k-items.csv if it exists."""
    from movielens_data.output import items_csv_path
    if given:
        if not os.path.isfile(given):
            raise RecommendError(f"no items file {given}")
        return given
    if data_dir:
        # The store knows the data folder: only its own titles are right.
        beside = str(items_csv_path(data_dir))
        return beside if os.path.isfile(beside) else None
    return FALLBACK_ITEMS_CSV if os.path.isfile(FALLBACK_ITEMS_CSV) else None


def load_titles(path: Optional[str]) -> Optional[Dict[int, str]]:
    from movielens_data.output import read_titles
    if path is None:
        return None
    try:
        return read_titles(path)
    except (OSError, ValueError, KeyError) as error:
        raise RecommendError(f"cannot read titles from {path}: "
                             f"{error}") from error


# ---------------------------------------------------------------- CLI


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


def run(args: argparse.Namespace) -> int:
    if args.csv:
        check_csv_folder(args.csv)
    store = open_existing_store(configs.LocalPaths(
        args.output_root, args.pipeline_name).metadata_path)
    model_dir = args.model_dir or pushed_model_dir(
        store, args.pipeline_name, args.output_root)
    data = load_pipeline_data(store)
    titles = load_titles(find_items_csv(args.items_csv, data.data_dir))
    value_key = prediction_key(model_objective(store, model_dir))
    scorer = load_scorer(model_dir)
    if args.all_users:
        users = known_users(data.rated)
        _progress(f"ranking {len(data.catalog.item_ids):,} movies for "
                  f"{len(users):,} users with {model_dir}")
        rows = write_batch_csv(args.csv, iter_recommendations(
            scorer, data.catalog, data.rated, args.k, value_key=value_key),
            titles, len(users))
        _progress(f"wrote {rows:,} rows to {args.csv}")
        return 0
    found = recommend_for_users(scorer, data.catalog, data.rated, args.user,
                                args.k, value_key)
    known = set(known_users(data.rated).tolist())
    for index, user_id in enumerate(dict.fromkeys(args.user)):
        if index:
            print()
        if user_id in known:
            print_user(user_id, found[found[features.USER_KEY] == user_id],
                       data, titles, model_dir)
        else:
            print_fallback(user_id, args.k, data, titles)
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
