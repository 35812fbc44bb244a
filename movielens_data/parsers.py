"""Parse a MovieLens folder as downloaded from GroupLens (or RecBole).

The layout is detected by the files present:

=========  ==========================  ===================================
layout     files                       releases
=========  ==========================  ===================================
ml-100k    u.data + u.item             ml-100k
ml-1m      ratings.dat + movies.dat    ml-1m, ml-10m
ml-20m     ratings.csv + movies.csv    ml-20m, ml-25m, ml-latest(-small)
recbole    <name>.inter + <name>.item  RecBole atomic files (ml-100k in the
                                       recbole==1.2.1 wheel)
=========  ==========================  ===================================

The ml-10m files differ from ml-1m's only in content (half stars such as
3.5, genres spelled `Children` and `(no genres listed)`), which the ml-1m
layout reads as well, so a 10M folder is reported as layout ml-1m.

`load_movielens` returns the ratings in pipeline form (CSV_COLUMNS, genres
canonical and joined by GENRE_SEPARATOR) and every item's title and genres.
Every problem raises DataError naming file, line and column; no row is ever
dropped silently.
"""
import csv
import io
import logging
import re
from pathlib import Path
from typing import (Callable, Dict, Iterable, List, NamedTuple, Optional,
                    Sequence, Tuple)

import numpy as np
import pandas as pd

from movielens_data.errors import DataError, PathLike
from movielens_data.genres import NO_GENRES_LISTED, canonical_genres
from movielens_data.output import (TITLE_KEY, items_csv_path,
                                   write_items_csv, write_pipeline_csv)
from movielens_data.tables import (RATING_KEYS, convert_ratings, decode_text,
                                   find_columns, read_table, require_file)
from movielens_features import CSV_COLUMNS, GENRES_KEY, ITEM_KEY

logger = logging.getLogger(__name__)

__all__ = ["MovieLensData", "load_movielens", "detect_layout",
           "convert_folder", "write_pipeline_csv"]

# u.item genre flags, in file order (README of ml-100k).
ML100K_GENRE_FLAGS = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")
_ML100K_ITEM_FIELDS = ("item_id", "title", "release_date",
                       "video_release_date", "imdb_url") + tuple(
                           f"genre {name}" for name in ML100K_GENRE_FLAGS)

_INTEGER = re.compile(r"[0-9]+", re.ASCII)


class MovieLensData(NamedTuple):
    """A parsed folder: pipeline ratings plus every item of the items file."""

    ratings: pd.DataFrame  # CSV_COLUMNS; int64, int64, float64, int64, str
    items: pd.DataFrame    # item_id, title, genres
    layout: str

    def titles(self) -> Dict[int, str]:
        """item_id -> title."""
        return dict(zip(self.items[ITEM_KEY].tolist(),
                        self.items[TITLE_KEY].tolist()))


class _ItemTable:
    """Collects items line by line, rejecting bad ids, repeats and genres."""

    def __init__(self, path: Path, id_column: str, genres_column: str):
        self.path = path
        self.id_column = id_column
        self.genres_column = genres_column
        self.first_line: Dict[int, int] = {}
        self.titles: List[str] = []
        self.genres: List[str] = []

    def add(self, line: int, raw_id: str, title: str,
            genre_names: Iterable[str]) -> None:
        if not _INTEGER.fullmatch(raw_id):
            raise DataError(self.path, _not_integer(raw_id), line,
                            self.id_column)
        item_id = int(raw_id)
        if item_id in self.first_line:
            raise DataError(self.path, f"duplicate item {item_id} (first on "
                            f"line {self.first_line[item_id]})", line,
                            self.id_column)
        try:
            genres = canonical_genres(genre_names)
        except ValueError as error:
            raise DataError(self.path, str(error), line,
                            self.genres_column) from None
        self.first_line[item_id] = line
        self.titles.append(title)
        self.genres.append(genres)

    def frame(self) -> pd.DataFrame:
        if not self.titles:
            raise DataError(self.path, "no items")
        return pd.DataFrame({
            ITEM_KEY: np.fromiter(self.first_line, dtype=np.int64,
                                  count=len(self.first_line)),
            TITLE_KEY: self.titles, GENRES_KEY: self.genres})


def _not_integer(raw: str) -> str:
    return "missing value" if raw == "" else f"{raw!r} is not an integer"


def _read_lines(path: Path) -> List[str]:
    """Lines without terminators (split on '\\n' only: latin-1 text may hold
    bytes that str.splitlines would treat as line breaks)."""
    require_file(path)
    lines = decode_text(path.read_bytes()).split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _check_not_blank(path: Path, line: int, text: str) -> None:
    if text == "":
        raise DataError(path, "empty line", line)


def _read_ml100k_items(path: Path) -> pd.DataFrame:
    """u.item: id|title|release|video release|IMDb URL|19 genre flags."""
    table = _ItemTable(path, "item_id", "genres")
    for number, text in enumerate(_read_lines(path), 1):
        _check_not_blank(path, number, text)
        fields = text.split("|")
        if len(fields) != len(_ML100K_ITEM_FIELDS):
            raise DataError(
                path, f"expected {len(_ML100K_ITEM_FIELDS)} fields separated"
                f" by '|', found {len(fields)}", number,
                _ML100K_ITEM_FIELDS[len(fields)]
                if len(fields) < len(_ML100K_ITEM_FIELDS) else None)
        flags = fields[5:]
        for name, flag in zip(ML100K_GENRE_FLAGS, flags):
            if flag not in ("0", "1"):
                raise DataError(path, f"genre flag {flag!r} is not 0 or 1",
                                number, f"genre {name}")
        table.add(number, fields[0], fields[1],
                  [name for name, flag in zip(ML100K_GENRE_FLAGS, flags)
                   if flag == "1"])
    return table.frame()


def _read_dat_items(path: Path) -> pd.DataFrame:
    """movies.dat: id::title::Genre1|Genre2 (titles may hold ':')."""
    table = _ItemTable(path, "item_id", "genres")
    for number, text in enumerate(_read_lines(path), 1):
        _check_not_blank(path, number, text)
        fields = text.split("::")
        if len(fields) < 3:
            raise DataError(path, "expected 3 fields separated by '::', "
                            f"found {len(fields)}", number,
                            ("item_id", "title", "genres")[len(fields)])
        genres = fields[-1]
        table.add(number, fields[0], "::".join(fields[1:-1]),
                  genres.split("|") if genres else [])
    return table.frame()


def _read_csv_items(path: Path) -> pd.DataFrame:
    """movies.csv: header movieId,title,genres; titles may be quoted."""
    header = find_columns(path, ",", ("movieId", "title", "genres"))
    id_at, title_at, genres_at = (header.index(name)
                                  for name in ("movieId", "title", "genres"))
    table = _ItemTable(path, "movieId", "genres")
    reader = csv.reader(io.StringIO(decode_text(path.read_bytes())))
    next(reader)
    for row in _csv_rows(reader, path):
        number = reader.line_num
        if not row:
            raise DataError(path, "empty line", number)
        if len(row) != len(header):
            raise DataError(path, f"expected {len(header)} fields separated "
                            f"by ',', found {len(row)}", number,
                            header[len(row)] if len(row) < len(header)
                            else None)
        genres = row[genres_at]
        table.add(number, row[id_at], row[title_at],
                  genres.split("|") if genres else [])
    return table.frame()


def _csv_rows(reader, path: Path) -> Iterable[List[str]]:
    try:
        yield from reader
    except csv.Error as error:
        raise DataError(path, f"malformed CSV: {error}",
                        reader.line_num) from None


def _read_recbole_items(path: Path) -> pd.DataFrame:
    """RecBole .item: tab-separated with typed header; `class` holds the
    genres separated by single spaces (genre names hold no spaces there)."""
    id_column, genres_column = "item_id:token", "class:token_seq"
    header = find_columns(path, "\t", (id_column, genres_column))
    title_at = header.index("movie_title:token_seq") \
        if "movie_title:token_seq" in header else None
    id_at, genres_at = header.index(id_column), header.index(genres_column)
    table = _ItemTable(path, id_column, genres_column)
    for number, text in enumerate(_read_lines(path)[1:], 2):
        _check_not_blank(path, number, text)
        fields = text.split("\t")
        if len(fields) != len(header):
            raise DataError(path, f"expected {len(header)} fields separated "
                            f"by '\\t', found {len(fields)}", number,
                            header[len(fields)] if len(fields) < len(header)
                            else None)
        genres = fields[genres_at]
        names = [] if genres in ("", NO_GENRES_LISTED) else genres.split(" ")
        title = fields[title_at] if title_at is not None else ""
        table.add(number, fields[id_at], title, names)
    return table.frame()


class Layout(NamedTuple):
    """Where a release keeps its ratings and items, and how to read them."""

    name: str
    ratings_file: str
    items_file: str
    separator: str
    # File column names of RATING_KEYS; None: no header, fixed order.
    header: Optional[Tuple[str, str, str, str]]
    read_items: Callable[[Path], pd.DataFrame]


GROUPLENS_LAYOUTS = (
    Layout("ml-100k", "u.data", "u.item", "\t", None, _read_ml100k_items),
    Layout("ml-1m", "ratings.dat", "movies.dat", "::", None,
           _read_dat_items),
    Layout("ml-20m", "ratings.csv", "movies.csv", ",",
           ("userId", "movieId", "rating", "timestamp"), _read_csv_items),
)
RECBOLE_HEADER = ("user_id:token", "item_id:token", "rating:float",
                  "timestamp:float")


def _recbole_layout(inter: Path) -> Layout:
    return Layout("recbole", inter.name, inter.stem + ".item", "\t",
                  RECBOLE_HEADER, _read_recbole_items)


def detect_layout(folder: PathLike) -> Layout:
    """The layout of `folder`, decided by which ratings file it holds.

    The items file is not required here, so a folder with only the ratings
    file fails later with a precise 'file not found' for the items file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "folder not found")
    found = [layout for layout in GROUPLENS_LAYOUTS
             if (folder / layout.ratings_file).is_file()]
    found += [_recbole_layout(inter) for inter in sorted(folder.glob(
        "*.inter"))]
    if len(found) == 1:
        return found[0]
    expected = "; ".join(f"{layout.ratings_file} + {layout.items_file}"
                         for layout in GROUPLENS_LAYOUTS)
    if not found:
        raise DataError(folder, "no MovieLens ratings file found (expected "
                        f"{expected}; or <name>.inter + <name>.item)")
    raise DataError(folder, "more than one ratings file found: " + ", ".join(
        layout.ratings_file for layout in found))


def _read_ratings(path: Path, layout: Layout) -> Tuple[pd.DataFrame, int,
                                                      Sequence[str]]:
    """(ratings, first data line, file column labels of RATING_KEYS)."""
    if layout.header is None:
        labels, names, first_line = RATING_KEYS, RATING_KEYS, 1
    else:
        require_file(path)
        labels = layout.header
        names, first_line = find_columns(path, layout.separator, labels), 2
    frame = read_table(path, layout.separator, names, first_line)
    ratings = convert_ratings(frame, path, first_line,
                              dict(zip(RATING_KEYS, labels)))
    return ratings, first_line, labels


def _genres_of_rated_items(ratings: pd.DataFrame, items: pd.DataFrame,
                           ratings_path: Path, first_line: int,
                           item_label: str, items_path: Path) -> np.ndarray:
    positions = pd.Index(items[ITEM_KEY]).get_indexer(ratings[ITEM_KEY])
    missing = positions < 0
    if missing.any():
        row = int(np.argmax(missing))
        raise DataError(
            ratings_path, f"item {ratings[ITEM_KEY].iat[row]} is not in "
            f"{items_path.name}", first_line + row, item_label)
    return items[GENRES_KEY].to_numpy(dtype=object)[positions]


def load_movielens(folder: PathLike) -> MovieLensData:
    """Parse a GroupLens or RecBole MovieLens folder (see module doc)."""
    folder = Path(folder)
    layout = detect_layout(folder)
    ratings_path = folder / layout.ratings_file
    items_path = folder / layout.items_file
    logger.info("parsing %s (%s layout)", folder, layout.name)
    items = layout.read_items(items_path)
    ratings, first_line, labels = _read_ratings(ratings_path, layout)
    ratings[GENRES_KEY] = _genres_of_rated_items(
        ratings, items, ratings_path, first_line, labels[1], items_path)
    logger.info("parsed %d ratings, %d items", len(ratings), len(items))
    return MovieLensData(ratings[list(CSV_COLUMNS)], items, layout.name)


def convert_folder(source: PathLike,
                   dataset_dir: PathLike) -> Tuple[Path, Path, MovieLensData]:
    """Parse `source` and write `<dataset_dir>/ratings.csv` plus the items
    file beside it (output.items_csv_path). Returns (ratings csv, items csv,
    parsed data)."""
    data = load_movielens(source)
    ratings_csv = write_pipeline_csv(data.ratings, dataset_dir)
    items_csv = write_items_csv(data.items, items_csv_path(dataset_dir))
    return ratings_csv, items_csv, data
