"""Fast, line-exact reading of the numeric ratings tables.

All ratings files (u.data, ratings.dat, ratings.csv, *.inter and the
pipeline CSV) are plain separated numbers without quoting. The happy path is
vectorised (a numpy scan of the raw bytes, then the pandas C parser and
numpy masks); only when a check fails is the offending row mapped back to
its line. Rows map to lines one to one, because the byte scan rejects blank
and short lines before pandas reads anything: line = first data line + row.
"""
import csv
import logging
import os
import warnings
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence

import numpy as np
import pandas as pd

from movielens_data.errors import DataError, PathLike
from movielens_features import (
    ITEM_KEY, LABEL_KEY, RATING_MAX, RATING_MIN, TIMESTAMP_KEY, USER_KEY)

logger = logging.getLogger(__name__)

# The four numeric columns every ratings file has, in pipeline order.
RATING_KEYS = (USER_KEY, ITEM_KEY, LABEL_KEY, TIMESTAMP_KEY)

_CHUNK_BYTES = 1 << 26  # bounds the memory of the field-count scan
_NEWLINE = ord("\n")


class _Problem(NamedTuple):
    row: int
    column: str
    message: str


def decode_text(raw: bytes) -> str:
    """Decode as UTF-8 (dropping a BOM), falling back to latin-1.

    The older GroupLens releases are latin-1; a latin-1 file that happens to
    be valid UTF-8 is practically impossible for real titles.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def require_file(path: PathLike) -> None:
    """Raise DataError unless `path` is an existing, non-empty file."""
    if not os.path.isfile(path):
        raise DataError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise DataError(path, "file is empty")


def read_header(path: PathLike, sep: str) -> List[str]:
    """The field names on the first line of `path`."""
    with open(path, "rb") as handle:
        first = handle.readline()
    return decode_text(first).rstrip("\r\n").split(sep)


def find_columns(path: PathLike, sep: str,
                 wanted: Iterable[str]) -> List[str]:
    """Read the header and check it names every column in `wanted`."""
    require_file(path)
    header = read_header(path, sep)
    for name in wanted:
        if name not in header:
            raise DataError(
                path, f"missing column {name!r} in header "
                f"(found: {', '.join(header)})", 1, name)
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(path, f"column {name!r} appears twice in header",
                            1, name)
        seen.add(name)
    return header


def _line_text(path: PathLike, line: int) -> str:
    """Text of one line; only used to word an error, so a scan is fine."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            if number == line:
                return decode_text(raw).rstrip("\r\n")
    return ""


def _check_separator_runs(path: PathLike, ends: np.ndarray,
                          seps: np.ndarray, sep: str, lines_done: int,
                          first_line: int) -> None:
    """For a repeated-character separator ('::'): the separator bytes of
    every line from `first_line` must come in adjacent runs of len(sep).

    `ends` and `seps` are the newline and separator byte positions of a
    block in which every such line has the right number of separator bytes,
    so runs never straddle lines.
    """
    header_lines = min(max(first_line - 1 - lines_done, 0), len(ends))
    start = 0 if header_lines == 0 else \
        int(np.searchsorted(seps, ends[header_lines - 1]))
    runs = seps[start:].reshape(-1, len(sep))
    bad = runs[:, -1] - runs[:, 0] != len(sep) - 1
    if bad.any():
        at = runs[int(np.argmax(bad)), 0]
        line = lines_done + 1 + int(np.searchsorted(ends, at))
        raise DataError(path, f"fields must be separated by {sep!r}", line)


def _field_count_error(path: PathLike, line: int, sep: str,
                       names: Sequence[str]) -> DataError:
    text = _line_text(path, line)
    if text == "":
        return DataError(path, "empty line", line)
    found = len(text.split(sep))
    message = (f"expected {len(names)} fields separated by {sep!r}, "
               f"found {found}")
    column = names[found] if found < len(names) else None
    return DataError(path, message, line, column)


def check_field_counts(path: PathLike, sep: str, names: Sequence[str],
                       first_line: int, utf8: bool = False) -> None:
    """Raise DataError for the first line with a wrong number of fields,
    or (for '::') with separator bytes that are not in pairs, or (with
    `utf8`) for the first byte that is not UTF-8.

    Counts bytes of sep[0] per line with numpy, chunk by chunk, so a 25M
    line file takes about a second. `sep` is one character or one character
    repeated ('::'). Lines before `first_line` (the header) are skipped by
    the field count, not by the UTF-8 check.
    """
    expected = (len(names) - 1) * len(sep)
    lines_done = 0
    offset = 0  # of `block` in the file
    carry = b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_CHUNK_BYTES)
            if not block:
                break
            block = carry + block
            end = block.rfind(b"\n") + 1
            carry = block[end:]
            lines_done += _check_block(path, block[:end], lines_done, offset,
                                       first_line, expected, sep, names, utf8)
            offset += end
    if carry:  # last line without a trailing newline
        _check_block(path, carry + b"\n", lines_done, offset, first_line,
                     expected, sep, names, utf8)


def _check_block(path: PathLike, block: bytes, lines_done: int, offset: int,
                 first_line: int, expected: int, sep: str,
                 names: Sequence[str], utf8: bool) -> int:
    """Check the lines of `block` (which ends with a newline and starts at
    byte `offset` of the file); returns how many lines it holds."""
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == _NEWLINE)
    seps = np.flatnonzero(data == ord(sep[0]))
    if utf8:
        _raise_on_non_utf8(path, block, data, ends, seps, lines_done, offset,
                           sep, names)
    counts = np.diff(np.searchsorted(seps, ends), prepend=0)
    _raise_on_bad_count(path, counts, lines_done, first_line, expected, sep,
                        names)
    if len(sep) > 1:
        _check_separator_runs(path, ends, seps, sep, lines_done, first_line)
    return len(ends)


def _raise_on_non_utf8(path: PathLike, block: bytes, data: np.ndarray,
                       ends: np.ndarray, seps: np.ndarray, lines_done: int,
                       offset: int, sep: str, names: Sequence[str]) -> None:
    # ASCII blocks (every ratings file) cost one max(); only a block with
    # high bytes is decoded. Blocks end at a newline, so no character is cut.
    if not len(data) or int(data.max()) < 0x80:
        return
    try:
        block.decode("utf-8")
    except UnicodeDecodeError as error:
        at = error.start
        index = int(np.searchsorted(ends, at))  # line index within the block
        line_start = int(ends[index - 1]) + 1 if index else 0
        field = int(np.searchsorted(seps, at)
                    - np.searchsorted(seps, line_start)) // len(sep)
        raise non_utf8_error(path, block[at], offset + at, at - line_start,
                             lines_done + 1 + index,
                             names[field] if field < len(names) else None
                             ) from None


def non_utf8_error(path: PathLike, byte: int, file_offset: int,
                   line_offset: int, line: int,
                   column: Optional[str]) -> DataError:
    """The DataError for a byte that is not UTF-8, located every way."""
    return DataError(
        path, f"byte 0x{byte:02X} at file offset {file_offset} (byte "
        f"{line_offset + 1} of the line) is not UTF-8: the pipeline "
        f"(CsvExampleGen) reads UTF-8 only; save the file as UTF-8", line,
        column)


def _raise_on_bad_count(path: PathLike, counts: np.ndarray, lines_done: int,
                        first_line: int, expected: int, sep: str,
                        names: Sequence[str]) -> None:
    lines = lines_done + 1 + np.arange(len(counts))
    bad = (counts != expected) & (lines >= first_line)
    if bad.any():
        line = int(lines[np.argmax(bad)])
        raise _field_count_error(path, line, sep, names)


def read_table(path: PathLike, sep: str, names: Sequence[str],
               first_line: int, category_columns: Sequence[str] = (),
               utf8: bool = False) -> pd.DataFrame:
    """Read a separated table whose data starts on line `first_line`.

    Every line must have exactly len(names) fields, and with `utf8` every
    byte must be UTF-8 (the pipeline CSV). Empty fields become NaN;
    everything else is left to pandas' type inference, so a column that
    holds a non-number comes back as object dtype and is caught by
    `convert_ratings`. Columns in `category_columns` are read as pandas
    categories (cheap for the repetitive genres strings).
    """
    require_file(path)
    logger.info("reading %s", path)
    check_field_counts(path, sep, names, first_line, utf8)
    # '::' is read as ':' with an empty column between real fields; the
    # byte scan above has checked those are empty, so they are not kept.
    gap_names = [f"_gap{i}" for i in range(len(names) - 1)]
    raw_names: List[str] = []
    for index, name in enumerate(names):
        raw_names.append(name)
        if len(sep) > 1 and index < len(gap_names):
            raw_names.append(gap_names[index])
    with warnings.catch_warnings():
        # A column holding a bad value is caught (and located) below.
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        frame = _read_csv(path, sep, raw_names, names, first_line,
                          category_columns, "utf-8" if utf8 else "latin-1")
    if frame.empty:
        raise DataError(path, "no data rows")
    logger.info("read %d rows from %s", len(frame), path)
    if list(frame.columns) == list(names):
        return frame
    return frame[list(names)]


def _read_csv(path: PathLike, sep: str, raw_names: Sequence[str],
              names: Sequence[str], first_line: int,
              category_columns: Sequence[str], encoding: str) -> pd.DataFrame:
    # Only empty fields are missing: 'NA' or 'nan' must be reported.
    return pd.read_csv(
        path, sep=sep[0], header=None, names=raw_names, usecols=list(names),
        skiprows=first_line - 1, quoting=csv.QUOTE_NONE,
        keep_default_na=False, na_values=[""], index_col=False,
        dtype={name: "category" for name in category_columns},
        encoding=encoding, engine="c")


def _describe(raw: object, what: str) -> str:
    if pd.isna(raw):
        return "missing value"
    return f"{raw!r} is not {what}"


def _as_float(values: pd.Series) -> np.ndarray:
    if values.dtype.kind in "iuf":
        return values.to_numpy(dtype=np.float64)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)


def _integer_column(values: pd.Series, label: str,
                    minimum: Optional[int] = None):
    """(int64 array, None) or (None, the first problem): a value that is
    not an integer, or one below `minimum`."""
    numbers, problem = _integers(values, label)
    if problem is not None or minimum is None:
        return numbers, problem
    small = numbers < minimum
    if not small.any():
        return numbers, None
    row = int(np.argmax(small))
    return None, _Problem(row, label, f"id {numbers[row]} is below "
                          f"{minimum}: ids are integers from {minimum} up")


def _integers(values: pd.Series, label: str):
    if values.dtype.kind == "i":
        return values.to_numpy(dtype=np.int64), None
    numbers = _as_float(values)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numbers) | (numbers != np.round(numbers)) | \
            (np.abs(numbers) >= 2.0 ** 63)
    if bad.any():
        row = int(np.argmax(bad))
        raw = values.iloc[row]
        return None, _Problem(row, label, _describe(raw, "an integer"))
    return numbers.astype(np.int64), None


def _rating_column(values: pd.Series, label: str):
    """(float64 array, None) or (None, the first problem)."""
    numbers = _as_float(values)
    not_number = np.isnan(numbers)
    outside = ~not_number & ((numbers < RATING_MIN) | (numbers > RATING_MAX))
    bad = not_number | outside
    if not bad.any():
        return numbers, None
    row = int(np.argmax(bad))
    if not_number[row]:
        message = _describe(values.iloc[row], "a number")
    else:
        message = (f"rating {numbers[row]:g} is outside "
                   f"[{RATING_MIN:g}, {RATING_MAX:g}]")
    return None, _Problem(row, label, message)


def _duplicate_rows(users: np.ndarray, items: np.ndarray):
    """(first row, repeated row) of the first repeated pair, or None."""
    item_span = int(items.max()) - int(items.min()) + 1
    user_span = int(users.max()) - int(users.min()) + 1
    if user_span * item_span < 2 ** 62:
        # One int64 key per pair hashes much faster than two columns.
        keys = (users - users.min()) * item_span + (items - items.min())
        repeated = pd.Series(keys).duplicated().to_numpy()
    else:
        keys = None
        repeated = pd.DataFrame({"u": users, "i": items}).duplicated() \
            .to_numpy()
    if not repeated.any():
        return None
    second = int(np.argmax(repeated))
    if keys is not None:
        earlier = keys[:second] == keys[second]
    else:
        earlier = (users[:second] == users[second]) & \
            (items[:second] == items[second])
    return int(np.argmax(earlier)), second


def convert_ratings(frame: pd.DataFrame, path: PathLike, first_line: int,
                    labels: Dict[str, str],
                    min_id: Optional[int] = None) -> pd.DataFrame:
    """Check and type the four rating columns of a table from `read_table`.

    `labels` maps each of RATING_KEYS to its column name in `frame` (and in
    error messages). User and item ids below `min_id` (if given) are
    refused. Returns a frame with RATING_KEYS as int64, int64, float64,
    int64. Raises DataError for the earliest bad line.
    """
    columns = {}
    problems: List[_Problem] = []
    for key in RATING_KEYS:
        label = labels[key]
        if key == LABEL_KEY:
            values, problem = _rating_column(frame[label], label)
        else:
            values, problem = _integer_column(
                frame[label], label,
                min_id if key in (USER_KEY, ITEM_KEY) else None)
        columns[key] = values
        if problem is not None:
            problems.append(problem)
    if problems:
        first = min(problems, key=lambda problem: problem.row)
        raise DataError(path, first.message, first_line + first.row,
                        first.column)
    duplicate = _duplicate_rows(columns[USER_KEY], columns[ITEM_KEY])
    if duplicate is not None:
        earlier, later = duplicate
        raise DataError(
            path, f"duplicate rating of item {columns[ITEM_KEY][later]} by "
            f"user {columns[USER_KEY][later]} (first on line "
            f"{first_line + earlier})", first_line + later,
            labels[ITEM_KEY])
    return pd.DataFrame(columns)
