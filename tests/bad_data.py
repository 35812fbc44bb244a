"""Broken copies of a good ratings.csv: the bad-data cases of the table in
docs/reliability.md, with what the data check, and the schema where it applies, must say.
"""
import dataclasses
import pathlib
from typing import Callable, List, Optional


def edit_field(lines: List[str], number: int, column: str, value: str
               ) -> List[str]:
    """lines with field `column` of line `number` (1-based) set to value."""
    out = list(lines)
    header = out[0].split(",")
    fields = out[number - 1].split(",")
    fields[header.index(column)] = value
    out[number - 1] = ",".join(fields)
    return out


def drop_column(lines: List[str], column: str) -> List[str]:
    index = lines[0].split(",").index(column)
    return [",".join(f for i, f in enumerate(line.split(",")) if i != index)
            for line in lines]


@dataclasses.dataclass(frozen=True)
class BadCase:
    breaks: Callable[[List[str]], List[str]]
    # What `python -m movielens_data validate` / local_runner's check says.
    data_check_says: str
    # What ExampleValidator (through the AnomaliesGate) says, for the cases
    # the schema catches; None for the others.
    schema_says: Optional[str] = None


BAD_DATA = {
    "missing_column": BadCase(
        lambda lines: drop_column(lines, "rating"),
        "line 1, column rating: header must be "
        "user_id,item_id,rating,timestamp,genres",
        "feature 'rating': Column is completely missing"),
    "non_numeric_rating": BadCase(
        lambda lines: edit_field(lines, 11, "rating", "good"),
        "line 11, column rating: 'good' is not a number",
        "feature 'rating': Expected data of type: FLOAT but got STRING"),
    "rating_out_of_range": BadCase(
        lambda lines: edit_field(lines, 11, "rating", "6"),
        "line 11, column rating: rating 6 is outside [0.5, 5]",
        "feature 'rating': Unexpectedly high value: 6>5"),
    "empty_file": BadCase(
        lambda lines: [],
        "ratings.csv: file is empty",
        "no examples (is the input data empty?)"),
    "truncated_line": BadCase(
        lambda lines: lines + [lines[5].rsplit(",", 2)[0]],
        "line 1502, column timestamp: expected 5 fields separated by ',', "
        "found 3"),
    "duplicate_pair": BadCase(
        lambda lines: lines + [lines[5]],
        "line 1502, column item_id: duplicate rating of item"),
    "unknown_genre": BadCase(
        lambda lines: edit_field(lines, 11, "genres", "Comedy|Cyberpunk"),
        "line 11, column genres: unknown genre 'Cyberpunk'"),
    "non_integer_id": BadCase(
        lambda lines: edit_field(lines, 11, "user_id", "u42"),
        "line 11, column user_id: 'u42' is not an integer",
        "feature 'user_id': Expected data of type: INT but got STRING"),
    "byte_order_mark": BadCase(
        lambda lines: ["\ufeff" + lines[0], *lines[1:]],
        "line 1, column user_id: the file starts with a UTF-8 byte order "
        "mark (BOM, bytes EF BB BF) before the header",
        "feature '\\ufeffuser_id': New column (column in data but not in "
        "schema) (the CSV starts with a UTF-8 byte order mark"),
    "negative_user_id": BadCase(
        lambda lines: edit_field(lines, 11, "user_id", "-5"),
        "line 11, column user_id: id -5 is below 1: ids are integers from "
        "1 up",
        "feature 'user_id': Unexpectedly small value: -5."),
    "negative_item_id": BadCase(
        lambda lines: edit_field(lines, 11, "item_id", "-3"),
        "line 11, column item_id: id -3 is below 1: ids are integers from "
        "1 up",
        "feature 'item_id': Unexpectedly small value: -3."),
    "nan_rating": BadCase(
        lambda lines: edit_field(lines, 11, "rating", "nan"),
        "line 11, column rating: 'nan' is not a number",
        "feature 'rating': Float feature has NaN values."),
    # "\udce9" is written as the raw byte 0xE9 (latin-1 'é'): not UTF-8.
    # CsvExampleGen fails on it (UnicodeDecodeError), before any schema.
    "non_utf8_byte": BadCase(
        lambda lines: edit_field(lines, 11, "genres", "Com\udce9dy"),
        "line 11, column genres: byte 0xE9 at file offset"),
}


def write_bad_data(good_dir: pathlib.Path, bad_dir: pathlib.Path,
                   case: str) -> pathlib.Path:
    """bad_dir/ratings.csv: good_dir's ratings.csv broken as `case` says."""
    # surrogateescape: a case can write a byte that is not UTF-8.
    lines = (good_dir / "ratings.csv").read_bytes().decode(
        "utf-8", "surrogateescape").splitlines()
    bad_dir.mkdir(parents=True, exist_ok=True)
    broken = BAD_DATA[case].breaks(lines)
    (bad_dir / "ratings.csv").write_bytes("".join(
        line + "\n" for line in broken).encode("utf-8", "surrogateescape"))
    return bad_dir
