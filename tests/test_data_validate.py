"""validate_pipeline_csv on small pipeline CSVs written by the tests."""
import pytest

from movielens_data.errors import DataError
from movielens_data.validate import validate_pipeline_csv

HEADER = "user_id,item_id,rating,timestamp,genres\n"
GOOD_ROWS = ("1,10,4.0,881250949,Comedy|Romance\n"
             "1,20,3.5,881250950,\n"
             "2,10,5,881250951,Comedy|Romance\n"
             "3,30,0.5,881250952,Children's\n")


def write_csv(tmp_path, text, name="ratings.csv"):
    path = tmp_path / name
    path.write_text(text)
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


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        validate_pipeline_csv(tmp_path / "nope.csv")
