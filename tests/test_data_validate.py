"""validate_pipeline_csv on small pipeline CSVs written by the tests."""
import pytest

from movielens_data import tables
from movielens_data.errors import DataError
from movielens_data.validate import describe_summary, validate_pipeline_csv

HEADER = "user_id,item_id,rating,timestamp,genres\n"
GOOD_ROWS = ("1,10,4.0,881250949,Comedy|Romance\n"
             "1,20,3.5,881250950,\n"
             "2,10,5,881250951,Comedy|Romance\n"
             "3,30,0.5,881250952,Children's\n")


def write_csv(tmp_path, text, name="ratings.csv"):
    """text as UTF-8; a lone surrogate such as "\\udce9" writes the raw
    byte (0xE9)."""
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


def test_good_file_summary(tmp_path):
    summary = validate_pipeline_csv(write_csv(tmp_path, HEADER + GOOD_ROWS))
    assert (summary.rows, summary.users, summary.items) == (4, 3, 3)


def test_dataset_directory_is_accepted(tmp_path):
    write_csv(tmp_path, HEADER + GOOD_ROWS)
    assert validate_pipeline_csv(tmp_path).rows == 4


def test_dataset_directory_with_other_files_is_refused(tmp_path):
    write_csv(tmp_path, HEADER + GOOD_ROWS)
    write_csv(tmp_path, "x", name="README")
    with pytest.raises(DataError, match="exactly one file, ratings.csv; "
                                        "found: README, ratings.csv"):
        validate_pipeline_csv(tmp_path)


# (case id, file text, line, column, message fragment)
BAD_FILES = [
    ("empty file", "", None, None, "file is empty"),
    ("header only", HEADER, None, None, "no data rows"),
    ("header misspelt", HEADER.replace("item_id", "movieId") + GOOD_ROWS, 1,
     "item_id", "header must be user_id,item_id,rating,timestamp,genres"),
    ("header missing genres", "user_id,item_id,rating,timestamp\n"
     "1,10,4.0,881250949\n", 1, "genres", "header must be"),
    ("genres field missing", HEADER + "1,10,4.0,881250949\n", 2, "genres",
     "expected 5 fields separated by ',', found 4"),
    ("extra field", HEADER + GOOD_ROWS + "4,10,4.0,881250949,Drama,x\n", 6,
     None, "found 6"),
    ("blank line", HEADER + "1,10,4.0,881250949,Comedy|Romance\n\n", 3,
     None, "empty line"),
    ("non-integer user", HEADER + "one,10,4.0,881250949,Drama\n", 2,
     "user_id", "'one' is not an integer"),
    ("rating out of range", HEADER + GOOD_ROWS + "4,10,5.5,881250953,"
     "Comedy|Romance\n", 6, "rating", "rating 5.5 is outside [0.5, 5]"),
    ("rating not a number", HEADER + "1,10,good,881250949,Drama\n", 2,
     "rating", "'good' is not a number"),
    ("timestamp not integer", HEADER + "1,10,4,2001-01-01,Drama\n", 2,
     "timestamp", "'2001-01-01' is not an integer"),
    ("duplicate pair", HEADER + GOOD_ROWS + "2,10,1,881250953,"
     "Comedy|Romance\n", 6, "item_id",
     "duplicate rating of item 10 by user 2 (first on line 4)"),
    ("unknown genre", HEADER + GOOD_ROWS + "4,40,3,881250953,Drama|Kids\n",
     6, "genres", "unknown genre 'Kids'"),
    ("non-canonical Children", HEADER + "1,10,4,881250949,Children\n", 2,
     "genres", "unknown genre 'Children'"),
    ("trailing separator", HEADER + "1,10,4,881250949,Drama|\n", 2,
     "genres", "unknown genre ''"),
    ("item with two genres values", HEADER + GOOD_ROWS
     + "4,20,3,881250953,Drama\n", 6, "genres",
     "item 20 has genres 'Drama' here but '' on line 3"),
    # What the pipeline's schema or CsvExampleGen would refuse later on.
    ("byte order mark", "\ufeff" + HEADER + GOOD_ROWS, 1, "user_id",
     "the file starts with a UTF-8 byte order mark (BOM, bytes EF BB BF) "
     "before the header; the pipeline would read the first column as "
     "'\\ufeffuser_id': save the file as UTF-8 without BOM"),
    ("negative user id", HEADER + GOOD_ROWS + "-5,10,4,881250953,"
     "Comedy|Romance\n", 6, "user_id",
     "id -5 is below 1: ids are integers from 1 up"),
    ("zero item id", HEADER + "1,0,4,881250953,Drama\n", 2, "item_id",
     "id 0 is below 1: ids are integers from 1 up"),
    ("NaN rating", HEADER + GOOD_ROWS + "4,10,nan,881250953,"
     "Comedy|Romance\n", 6, "rating", "'nan' is not a number"),
    ("NaN rating, capitalised", HEADER + "4,10,NaN,881250953,Drama\n", 2,
     "rating", "'NaN' is not a number"),
    ("inf rating", HEADER + GOOD_ROWS + "4,10,inf,881250953,"
     "Comedy|Romance\n", 6, "rating", "rating inf is outside [0.5, 5]"),
    ("-inf rating", HEADER + "4,10,-inf,881250953,Drama\n", 2, "rating",
     "rating -inf is outside [0.5, 5]"),
    # Offsets: the header is 40 bytes, "1,10,4.0,881250949,Com" 22.
    ("latin-1 byte in genres", HEADER + "1,10,4.0,881250949,Com\udce9dy\n",
     2, "genres", "byte 0xE9 at file offset 62 (byte 23 of the line) is not "
     "UTF-8: the pipeline (CsvExampleGen) reads UTF-8 only; save the file "
     "as UTF-8"),
    ("stray byte in a rating", HEADER + GOOD_ROWS + "4,10,4\udcff,1,Drama\n",
     6, "rating", "byte 0xFF at file offset"),
    ("latin-1 byte in the header", "us\udce9r_id,item_id,rating,timestamp,"
     "genres\n" + GOOD_ROWS, 1, "user_id",
     "byte 0xE9 at file offset 2 (byte 3 of the line) is not UTF-8"),
]


@pytest.mark.parametrize("text,line,column,fragment",
                         [case[1:] for case in BAD_FILES],
                         ids=[case[0] for case in BAD_FILES])
def test_bad_file_is_located(tmp_path, text, line, column, fragment):
    path = write_csv(tmp_path, text)
    with pytest.raises(DataError) as caught:
        validate_pipeline_csv(path)
    error = caught.value
    assert error.path == str(path)
    assert (error.line, error.column) == (line, column)
    assert fragment in error.message
    assert str(error).startswith(str(path))
    if line is not None:
        assert f" line {line}" in str(error)
    if column is not None:
        assert f"column {column}: " in str(error)


def test_missing_file_or_folder_says_how_to_make_one(tmp_path):
    with pytest.raises(DataError) as caught:
        validate_pipeline_csv(tmp_path / "nope")
    assert str(caught.value) == (
        f"{tmp_path / 'nope'}: no such file or folder; make one with "
        f"`python -m movielens_data fetch-100k --dest data` (MovieLens-100k) "
        f"or see docs/data.md")


def test_valid_utf8_beyond_ascii_passes_the_encoding_check(tmp_path):
    # 'é' is two valid UTF-8 bytes: refused as a genre, not as encoding.
    path = write_csv(tmp_path, HEADER + "1,10,4.0,881250949,Comédy\n")
    with pytest.raises(DataError, match="unknown genre 'Comédy'"):
        validate_pipeline_csv(path)


def test_non_utf8_byte_is_located_in_a_later_block(tmp_path, monkeypatch):
    """The byte scan reads blocks cut at a newline: the offset, line and
    column of a bad byte in the third block are the file's, not the
    block's."""
    monkeypatch.setattr(tables, "_CHUNK_BYTES", 64)
    rows = "".join(f"{user},10,4.0,881250949,Drama\n"
                   for user in range(1, 21))
    text = HEADER + rows + "21,10,4.0,8812\udce90949,Drama\n"
    path = write_csv(tmp_path, text)
    offset = len(HEADER) + len(rows) + len("21,10,4.0,8812")
    with pytest.raises(DataError) as caught:
        validate_pipeline_csv(path)
    assert str(caught.value) == (
        f"{path} line 22, column timestamp: byte 0xE9 at file offset "
        f"{offset} (byte 15 of the line) is not UTF-8: the pipeline "
        f"(CsvExampleGen) reads UTF-8 only; save the file as UTF-8")


def test_summary_line_is_the_one_both_commands_print(tmp_path):
    summary = validate_pipeline_csv(write_csv(tmp_path, HEADER + GOOD_ROWS))
    assert describe_summary(summary) == (
        f"ratings: {tmp_path / 'ratings.csv'} (4 ratings, 3 users, 3 items)")
