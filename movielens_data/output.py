"""Writing (and reading back) the files this package produces.

A dataset is a directory holding exactly one file, `ratings.csv` (TFX
CsvExampleGen reads every file of its input directory). Item titles and
genres, needed later to print and serve recommendations, go next to that
directory, never inside it: `<parent>/<name>-items.csv` for dataset
directory `<parent>/<name>` (see `items_csv_path`). Every file is written
to a temporary name first and renamed, so a crash never leaves a partial
file under the final name.
"""
import logging
import os
from pathlib import Path
from typing import Dict

import pandas as pd

from movielens_data.errors import DataError, PathLike
from trainer_module.features import (CSV_COLUMNS, GENRES_KEY, ITEM_KEY,
                                     LABEL_KEY, TIMESTAMP_KEY, USER_KEY)

logger = logging.getLogger(__name__)

RATINGS_FILE_NAME = "ratings.csv"
TITLE_KEY = "title"
ITEM_COLUMNS = (ITEM_KEY, TITLE_KEY, GENRES_KEY)


def items_csv_path(dataset_dir: PathLike) -> Path:
    """Where the items file of a dataset directory lives (its sibling)."""
    dataset_dir = Path(dataset_dir)
    return dataset_dir.parent / f"{dataset_dir.name}-items.csv"


def _write_atomically(frame: pd.DataFrame, path: Path, temp: Path) -> None:
    try:
        frame.to_csv(temp, index=False, lineterminator="\n")
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()


def _check_only_ratings_file(dataset_dir: Path) -> None:
    others = sorted(name for name in os.listdir(dataset_dir)
                    if name != RATINGS_FILE_NAME)
    if others:
        raise DataError(
            dataset_dir, "a dataset directory must hold only "
            f"{RATINGS_FILE_NAME} (CsvExampleGen would read every file), "
            f"found: {', '.join(others)}")


def write_pipeline_csv(ratings: pd.DataFrame, dataset_dir: PathLike) -> Path:
    """Write `ratings` (CSV_COLUMNS) to `<dataset_dir>/ratings.csv`.

    Creates the directory, refuses one holding other files, replaces an
    existing ratings.csv atomically. Returns the CSV path.
    """
    dataset_dir = Path(dataset_dir)
    dataset_dir.mkdir(parents=True, exist_ok=True)
    _check_only_ratings_file(dataset_dir)
    path = dataset_dir / RATINGS_FILE_NAME
    # The temporary file sits beside the directory so that CsvExampleGen
    # never sees it inside, and on the same filesystem so rename is atomic.
    temp = dataset_dir.parent / f".{dataset_dir.name}.{os.getpid()}.tmp"
    logger.info("writing %d ratings to %s", len(ratings), path)
    _write_atomically(ratings.loc[:, list(CSV_COLUMNS)], path, temp)
    return path


def write_items_csv(items: pd.DataFrame, path: PathLike) -> Path:
    """Write items (item_id, title, genres) to `path`; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    logger.info("writing %d items to %s", len(items), path)
    _write_atomically(items.loc[:, list(ITEM_COLUMNS)], path, temp)
    return path


def read_items_csv(path: PathLike) -> pd.DataFrame:
    """Read a file written by `write_items_csv` (titles stay strings)."""
    return pd.read_csv(path, dtype={ITEM_KEY: "int64", TITLE_KEY: str,
                                    GENRES_KEY: str},
                       keep_default_na=False)


def read_titles(path: PathLike) -> Dict[int, str]:
    """item_id -> title from an items file."""
    items = read_items_csv(path)
    return dict(zip(items[ITEM_KEY].tolist(), items[TITLE_KEY].tolist()))


# GroupLens MovieLens-1M files: "::" between fields, no header.
ML1M_SEPARATOR = "::"
ML1M_RATINGS_FILE = "ratings.dat"
ML1M_MOVIES_FILE = "movies.dat"


def write_ml1m_files(ratings: pd.DataFrame, items: pd.DataFrame,
                     folder: PathLike) -> Path:
    """ratings.dat (user::item::rating::timestamp) and movies.dat
    (item::title::Genre1|Genre2) in MovieLens-1M's own format, for the
    `convert` command to read as it reads the real release."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rating_lines = (ratings[USER_KEY].astype(str) + ML1M_SEPARATOR
                    + ratings[ITEM_KEY].astype(str) + ML1M_SEPARATOR
                    + ratings[LABEL_KEY].astype("int64").astype(str)
                    + ML1M_SEPARATOR + ratings[TIMESTAMP_KEY].astype(str))
    movie_lines = (items[ITEM_KEY].astype(str) + ML1M_SEPARATOR
                   + items[TITLE_KEY] + ML1M_SEPARATOR + items[GENRES_KEY])
    for name, lines in ((ML1M_RATINGS_FILE, rating_lines),
                        (ML1M_MOVIES_FILE, movie_lines)):
        path = folder / name
        temp = folder / f".{name}.{os.getpid()}.tmp"
        try:
            temp.write_text("\n".join(lines) + "\n", encoding="latin-1")
            os.replace(temp, path)
        finally:
            if temp.exists():
                temp.unlink()
    logger.info("wrote %d ratings and %d movies in MovieLens-1M format to %s",
                len(ratings), len(items), folder)
    return folder
