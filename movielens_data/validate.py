"""Check an existing pipeline CSV before the pipeline reads it.

Same rules as the parsers, plus what the pipeline's schema and CsvExampleGen
require: UTF-8 without a byte order mark, header exactly CSV_COLUMNS, one
field per column on every line, integer ids from MIN_ID up and integer
timestamps, ratings within [RATING_MIN, RATING_MAX] (NaN and inf refused),
canonical genres, no repeated (user, item) pair, one genres value per item.
Any violation raises DataError with file, line and column; a byte scan then
vectorised columns, so a 10M-row file takes seconds.

`python -m movielens_data validate` and local_runner.py's check before a run
both call validate_pipeline_csv and print describe_summary: one check, one
wording.
"""
import logging
import os
from pathlib import Path
from typing import List, NamedTuple

import numpy as np
import pandas as pd

from movielens_data.errors import DataError, PathLike
from movielens_data.genres import (unknown_genre_message,
                                   unknown_pipeline_genre)
from movielens_data.output import RATINGS_FILE_NAME
from movielens_data.tables import (RATING_KEYS, convert_ratings,
                                   non_utf8_error, read_table, require_file)
from movielens_features import CSV_COLUMNS, GENRES_KEY, ITEM_KEY

logger = logging.getLogger(__name__)

_FIRST_DATA_LINE = 2
# The smallest user and item id: the int_domain min of both in
# pipeline/schema/schema.pbtxt (tests/test_schema.py holds them equal).
MIN_ID = 1
_BOM = b"\xef\xbb\xbf"


class PipelineCsvSummary(NamedTuple):
    path: Path
    rows: int
    users: int
    items: int


def _csv_in(path: Path) -> Path:
    """`path` itself, or the ratings.csv of a dataset directory (which must
    hold nothing else: CsvExampleGen reads every file in it)."""
    if not path.exists():
        raise DataError(path, "no such file or folder; make one with "
                        "`python -m movielens_data fetch-100k --dest data` "
                        "(MovieLens-100k) or see docs/data.md")
    if not path.is_dir():
        return path
    entries = sorted(os.listdir(path))
    if entries != [RATINGS_FILE_NAME]:
        raise DataError(path, f"a dataset directory must hold exactly one "
                        f"file, {RATINGS_FILE_NAME}; found: "
                        f"{', '.join(entries) or 'nothing'}")
    return path / RATINGS_FILE_NAME


def _check_header(path: Path) -> None:
    header = _header_fields(path)
    if header == list(CSV_COLUMNS):
        return
    mismatch = next((index for index, name in enumerate(CSV_COLUMNS)
                     if index >= len(header) or header[index] != name),
                    len(CSV_COLUMNS) - 1)
    raise DataError(path, f"header must be {','.join(CSV_COLUMNS)}, found "
                    f"{','.join(header)}", 1, CSV_COLUMNS[mismatch])


def _header_fields(path: Path) -> List[str]:
    """The header's names, read as CsvExampleGen reads them: UTF-8, where a
    byte order mark would become part of the first name."""
    with open(path, "rb") as handle:
        first = handle.readline()
    if first.startswith(_BOM):
        raise DataError(path, "the file starts with a UTF-8 byte order mark "
                        "(BOM, bytes EF BB BF) before the header; the "
                        f"pipeline would read the first column as "
                        f"{repr(chr(0xFEFF) + CSV_COLUMNS[0])}: save the file "
                        "as UTF-8 without BOM", 1, CSV_COLUMNS[0])
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as error:
        field = first[:error.start].count(b",")
        raise non_utf8_error(path, first[error.start], error.start,
                             error.start, 1, CSV_COLUMNS[field]
                             if field < len(CSV_COLUMNS) else None) from None
    return text.rstrip("\r\n").split(",")


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
                       category_columns=(GENRES_KEY,), utf8=True)
    ratings = convert_ratings(frame, csv_path, _FIRST_DATA_LINE,
                              {key: key for key in RATING_KEYS}, MIN_ID)
    codes = _genre_codes(csv_path, frame[GENRES_KEY])
    items = ratings[ITEM_KEY].to_numpy()
    _check_one_genres_per_item(csv_path, items, codes, frame[GENRES_KEY])
    summary = PipelineCsvSummary(csv_path, len(ratings),
                                 int(ratings[RATING_KEYS[0]].nunique()),
                                 int(pd.unique(items).size))
    logger.info("%s is valid: %d rows, %d users, %d items", csv_path,
                summary.rows, summary.users, summary.items)
    return summary


def describe_summary(summary: PipelineCsvSummary) -> str:
    """The line both the data command and local_runner.py print."""
    return (f"ratings: {summary.path} ({summary.rows} ratings, "
            f"{summary.users} users, {summary.items} items)")
