"""Check an existing pipeline CSV before the pipeline reads it.

Same rules as the parsers: header exactly CSV_COLUMNS, one field per column
on every line, integer ids and timestamps, ratings within
[RATING_MIN, RATING_MAX], canonical genres, no repeated (user, item) pair,
one genres value per item. Any violation raises DataError with file, line
and column; vectorised, so a 25M-row file takes seconds.
"""
import logging
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from movielens_data.errors import DataError, PathLike
from movielens_data.genres import (unknown_genre_message,
                                   unknown_pipeline_genre)
from movielens_data.output import RATINGS_FILE_NAME
from movielens_data.tables import (RATING_KEYS, convert_ratings, read_header,
                                   read_table, require_file)
from trainer_module.features import CSV_COLUMNS, GENRES_KEY, ITEM_KEY

logger = logging.getLogger(__name__)

_FIRST_DATA_LINE = 2


class PipelineCsvSummary(NamedTuple):
    path: Path
    rows: int
    users: int
    items: int


def _csv_in(path: Path) -> Path:
    """`path` itself, or the ratings.csv of a dataset directory (which must
    hold nothing else: CsvExampleGen reads every file in it)."""
    if not path.is_dir():
        return path
    entries = sorted(os.listdir(path))
    if entries != [RATINGS_FILE_NAME]:
        raise DataError(path, f"a dataset directory must hold exactly one "
                        f"file, {RATINGS_FILE_NAME}; found: "
                        f"{', '.join(entries) or 'nothing'}")
    return path / RATINGS_FILE_NAME


def _check_header(path: Path) -> None:
    header = read_header(path, ",")
    if header == list(CSV_COLUMNS):
        return
    mismatch = next((index for index, name in enumerate(CSV_COLUMNS)
                     if index >= len(header) or header[index] != name),
                    len(CSV_COLUMNS) - 1)
    raise DataError(path, f"header must be {','.join(CSV_COLUMNS)}, found "
                    f"{','.join(header)}", 1, CSV_COLUMNS[mismatch])


def _genre_codes(path: Path, genres: pd.Series) -> np.ndarray:
    """Category codes of the genres column (-1: empty) after checking every
    distinct value, which is far cheaper than checking every row."""
    codes = genres.cat.codes.to_numpy()
    for code, value in enumerate(genres.cat.categories):
        unknown = unknown_pipeline_genre(value)
        if unknown is not None:
            row = int(np.argmax(codes == code))
            raise DataError(path, unknown_genre_message(unknown),
                            _FIRST_DATA_LINE + row, GENRES_KEY)
    return codes


def _check_one_genres_per_item(path: Path, items: np.ndarray,
                               codes: np.ndarray,
                               genres: pd.Series) -> None:
    pairs = pd.DataFrame({"item": items, "code": codes})
    distinct = pairs.drop_duplicates()
    clashing = distinct["item"].duplicated().to_numpy()
    if not clashing.any():
        return
    # The second distinct value of the first clashing item, in file order.
    row = int(distinct.index[np.argmax(clashing)])
    item = items[row]
    first = int(np.argmax(items == item))
    raise DataError(path, f"item {item} has genres {_value(genres, row)!r} "
                    f"here but {_value(genres, first)!r} on line "
                    f"{_FIRST_DATA_LINE + first}", _FIRST_DATA_LINE + row,
                    GENRES_KEY)


def _value(genres: pd.Series, row: int) -> str:
    value = genres.iat[row]
    return "" if pd.isna(value) else str(value)


def validate_pipeline_csv(path: PathLike) -> PipelineCsvSummary:
    """Check a pipeline CSV (or a dataset directory holding only one).

    Returns rows, distinct users and distinct items; raises DataError.
    """
    csv_path = _csv_in(Path(path))
    require_file(csv_path)
    _check_header(csv_path)
    frame = read_table(csv_path, ",", CSV_COLUMNS, _FIRST_DATA_LINE,
                       category_columns=(GENRES_KEY,))
    ratings = convert_ratings(frame, csv_path, _FIRST_DATA_LINE,
                              {key: key for key in RATING_KEYS})
    codes = _genre_codes(csv_path, frame[GENRES_KEY])
    items = ratings[ITEM_KEY].to_numpy()
    _check_one_genres_per_item(csv_path, items, codes, frame[GENRES_KEY])
    summary = PipelineCsvSummary(csv_path, len(ratings),
                                 int(ratings[RATING_KEYS[0]].nunique()),
                                 int(pd.unique(items).size))
    logger.info("%s is valid: %d rows, %d users, %d items", csv_path,
                summary.rows, summary.users, summary.items)
    return summary
