"""Writing (and reading back) the files this package produces.

A dataset is a directory holding exactly one file, `ratings.csv` (TFX
CsvExampleGen reads every file of its input directory). Item titles and
genres, needed later to print and serve recommendations, go next to that
directory, never inside it: `<parent>/<name>-items.csv` for dataset
directory `<parent>/<name>` (see `items_csv_path`). Every file is written
to a temporary name first and renamed, so a crash never leaves a partial
file under the final name.

`write_raw_release` writes ratings in a GroupLens release's own files
instead (RAW_FORMATS: ml-1m and ml-10m `::` files, ml-20m CSVs), which the
parsers then read exactly as they read the real release.
"""
import csv
import io
import logging
import os
from pathlib import Path
from typing import Dict, Iterable, Iterator, NamedTuple, Optional, Tuple

import numpy as np
import pandas as pd

from movielens_data.errors import DataError, PathLike
from movielens_data.genres import GENRE_ALIASES, NO_GENRES_LISTED
from movielens_features import (CSV_COLUMNS, GENRE_SEPARATOR,
                                     GENRES_KEY, ITEM_KEY, LABEL_KEY,
                                     TIMESTAMP_KEY, USER_KEY)

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


class RawFormat(NamedTuple):
    """How a GroupLens release spells its ratings and movies files."""

    release: str
    folder: str           # the folder its zip file unpacks to
    ratings_file: str
    movies_file: str
    separator: str
    ratings_header: Optional[str]  # None: no header line
    movies_header: Optional[str]
    # Text of rating r at index 2r - 1 (0.5 .. 5); None: not on the scale.
    rating_texts: Tuple[Optional[str], ...]
    genre_spelling: Dict[str, str]  # canonical genre -> the release's name
    no_genres: str        # the genres field of a movie without genres
    encoding: str


_WHOLE = tuple(None if step % 2 else str(step // 2) for step in range(1, 11))
_HALF = tuple(f"{step / 2:g}" for step in range(1, 11))  # 0.5, 1, ..., 5
_HALF_ONE_DECIMAL = tuple(f"{step / 2:.1f}" for step in range(1, 11))
# 10M and 20M write Children's as Children (genres.GENRE_ALIASES).
_LATER_SPELLING = {canonical: name for name, canonical in
                   GENRE_ALIASES.items()}

RAW_FORMATS: Dict[str, RawFormat] = {
    # ratings.dat UserID::MovieID::Rating::Timestamp, whole stars;
    # movies.dat MovieID::Title::Genres. Latin-1, no header.
    "ml-1m": RawFormat("ml-1m", "ml-1m", "ratings.dat", "movies.dat", "::",
                       None, None, _WHOLE, {}, "", "latin-1"),
    # The same files with half stars, written 5 and 3.5.
    "ml-10m": RawFormat("ml-10m", "ml-10M100K", "ratings.dat", "movies.dat",
                        "::", None, None, _HALF, _LATER_SPELLING,
                        NO_GENRES_LISTED, "utf-8"),
    # CSV with headers, half stars written 5.0 and 3.5, titles quoted
    # where they hold a comma or a quote.
    "ml-20m": RawFormat("ml-20m", "ml-20m", "ratings.csv", "movies.csv", ",",
                        "userId,movieId,rating,timestamp",
                        "movieId,title,genres", _HALF_ONE_DECIMAL,
                        _LATER_SPELLING, NO_GENRES_LISTED, "utf-8"),
}
# Ratings formatted and written per block (bounds the strings in memory).
_RAW_CHUNK_ROWS = 1 << 20


def _rating_codes(ratings: np.ndarray, form: RawFormat) -> np.ndarray:
    """Index into form.rating_texts of every rating; ValueError if one is
    not on the release's scale."""
    steps = np.rint(ratings * 2.0)
    texts = np.array([text is not None for text in form.rating_texts])
    valid = (steps == ratings * 2.0) & (steps >= 1) & (steps <= 10)
    codes = np.where(valid, steps, 1).astype(np.int64) - 1
    bad = ~valid | ~texts[codes]
    if bad.any():
        scale = "whole stars 1..5" if form.rating_texts == _WHOLE \
            else "half stars 0.5..5"
        raise ValueError(
            f"rating {ratings[np.argmax(bad)]:g} cannot be written in "
            f"{form.release} format ({form.ratings_file} holds {scale})")
    return codes


def _movie_genres(genres: str, form: RawFormat) -> str:
    if genres == "":
        return form.no_genres
    return GENRE_SEPARATOR.join(form.genre_spelling.get(name, name)
                                for name in genres.split(GENRE_SEPARATOR))


def _write_text_atomically(path: Path, chunks: Iterable[str],
                           encoding: str) -> None:
    temp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        with open(temp, "w", encoding=encoding, newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()


def _rating_chunks(ratings: pd.DataFrame, form: RawFormat) -> Iterator[str]:
    """The ratings file's text, block by block."""
    line = form.separator.join(("%d", "%d", "%s", "%d")) + "\n"
    texts = np.array(form.rating_texts, dtype=object)
    users, items, values, times = (
        ratings[key].to_numpy() for key in
        (USER_KEY, ITEM_KEY, LABEL_KEY, TIMESTAMP_KEY))
    if form.ratings_header is not None:
        yield form.ratings_header + "\n"
    for start in range(0, len(ratings), _RAW_CHUNK_ROWS):
        block = slice(start, start + _RAW_CHUNK_ROWS)
        codes = _rating_codes(values[block], form)
        yield "".join(map(line.__mod__, zip(
            users[block].tolist(), items[block].tolist(),
            texts[codes].tolist(), times[block].tolist())))


def _movie_text(items: pd.DataFrame, form: RawFormat) -> str:
    rows = zip(items[ITEM_KEY].tolist(), items[TITLE_KEY].tolist(),
               (_movie_genres(genres, form)
                for genres in items[GENRES_KEY].tolist()))
    if form.separator == ",":  # CSV: quote where needed, as GroupLens does
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(form.movies_header.split(","))
        writer.writerows(rows)
        return text.getvalue()
    return "".join(f"{item}{form.separator}{title}{form.separator}{genres}\n"
                   for item, title, genres in rows)


def write_raw_release(ratings: pd.DataFrame, items: pd.DataFrame,
                      folder: PathLike, release: str) -> Path:
    """Write ratings (CSV_COLUMNS) and items (ITEM_COLUMNS) into `folder` as
    GroupLens ships `release` (a RAW_FORMATS key), for `convert` to read as
    it reads the real files. Rows keep their order. Raises ValueError for a
    rating off the release's scale (half stars in ml-1m) and DataError for a
    folder already holding another release's ratings file. Returns folder.
    """
    form = RAW_FORMATS[release]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    others = sorted({other.ratings_file for other in RAW_FORMATS.values()
                     if other.ratings_file != form.ratings_file
                     and (folder / other.ratings_file).exists()})
    if others:
        raise DataError(folder, f"already holds {', '.join(others)}; "
                        f"{release} files beside it would make the folder "
                        "ambiguous for convert")
    # A rating off the scale stops the writing of the ratings file's
    # temporary copy: no file of the release is left behind.
    _write_text_atomically(folder / form.ratings_file,
                           _rating_chunks(ratings, form), form.encoding)
    _write_text_atomically(folder / form.movies_file,
                           [_movie_text(items, form)], form.encoding)
    logger.info("wrote %d ratings and %d movies in %s format to %s",
                len(ratings), len(items), release, folder)
    return folder


# GroupLens MovieLens-1M files: "::" between fields, no header.
ML1M_SEPARATOR = RAW_FORMATS["ml-1m"].separator
ML1M_RATINGS_FILE = RAW_FORMATS["ml-1m"].ratings_file
ML1M_MOVIES_FILE = RAW_FORMATS["ml-1m"].movies_file


def write_ml1m_files(ratings: pd.DataFrame, items: pd.DataFrame,
                     folder: PathLike) -> Path:
    """ratings.dat (user::item::rating::timestamp) and movies.dat
    (item::title::Genre1|Genre2) in MovieLens-1M's own format, for the
    `convert` command to read as it reads the real release."""
    return write_raw_release(ratings, items, folder, "ml-1m")
